CREATE TABLE "change_dead_letters" (
	"subscriber_id" integer NOT NULL,
	"cursor" bigint NOT NULL,
	"tenant_id" integer NOT NULL,
	"kind" text NOT NULL,
	"number" integer NOT NULL,
	"change" text NOT NULL,
	"old_number" integer,
	"last_updated" timestamp with time zone,
	"changed_at" timestamp with time zone NOT NULL,
	"last_error" text NOT NULL,
	"dead_at" timestamp with time zone DEFAULT now() NOT NULL,
	"replay_requested_at" timestamp with time zone,
	CONSTRAINT "change_dead_letters_subscriber_id_cursor_pk" PRIMARY KEY("subscriber_id","cursor")
);
--> statement-breakpoint
CREATE TABLE "change_subscriber_progress" (
	"subscriber_id" integer NOT NULL,
	"tenant_id" integer NOT NULL,
	"cursor" bigint NOT NULL,
	"delivered_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "change_subscriber_progress_subscriber_id_tenant_id_pk" PRIMARY KEY("subscriber_id","tenant_id")
);
--> statement-breakpoint
CREATE TABLE "change_subscribers" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "change_subscribers_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"tenant_id" integer,
	"url" text NOT NULL,
	"secret_encrypted" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"removed_at" timestamp with time zone
);
--> statement-breakpoint
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
ALTER TABLE "change_dead_letters" ADD CONSTRAINT "change_dead_letters_subscriber_id_change_subscribers_id_fk" FOREIGN KEY ("subscriber_id") REFERENCES "public"."change_subscribers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "change_dead_letters" ADD CONSTRAINT "change_dead_letters_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "change_subscriber_progress" ADD CONSTRAINT "change_subscriber_progress_subscriber_id_change_subscribers_id_fk" FOREIGN KEY ("subscriber_id") REFERENCES "public"."change_subscribers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "change_subscriber_progress" ADD CONSTRAINT "change_subscriber_progress_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "change_subscribers" ADD CONSTRAINT "change_subscribers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_changes" ADD CONSTRAINT "economic_changes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "economic_changes_tenant_cursor_idx" ON "economic_changes" USING btree ("tenant_id","cursor");--> statement-breakpoint
CREATE INDEX "economic_changes_changed_at_idx" ON "economic_changes" USING btree ("changed_at");