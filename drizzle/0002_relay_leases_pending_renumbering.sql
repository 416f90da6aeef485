ALTER TABLE "sync_events" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "sync_events" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "pending_old_number" integer;--> statement-breakpoint
CREATE INDEX "sync_events_queued_workflow_idx" ON "sync_events" USING btree ("workflow_id","seq") WHERE "sync_events"."outcome" = 'queued';