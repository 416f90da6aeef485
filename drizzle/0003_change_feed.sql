CREATE TABLE "economic_changes" (
	"cursor" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"kind" text NOT NULL,
	"number" integer NOT NULL,
	"change" text NOT NULL,
	"old_number" integer,
	"last_updated" timestamp with time zone,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "economic_changes" ADD CONSTRAINT "economic_changes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "economic_changes_tenant_cursor_idx" ON "economic_changes" USING btree ("tenant_id","cursor");--> statement-breakpoint
CREATE INDEX "economic_changes_changed_at_idx" ON "economic_changes" USING btree ("changed_at");