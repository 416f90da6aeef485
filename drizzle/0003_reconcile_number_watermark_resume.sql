ALTER TABLE "reconcile_state" ADD COLUMN "number_watermark" integer;--> statement-breakpoint
ALTER TABLE "reconcile_state" ADD COLUMN "resume" jsonb;