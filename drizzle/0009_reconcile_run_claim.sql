ALTER TABLE "reconcile_state" ADD COLUMN "active_run" text;--> statement-breakpoint
ALTER TABLE "reconcile_state" ADD COLUMN "active_until" timestamp with time zone;