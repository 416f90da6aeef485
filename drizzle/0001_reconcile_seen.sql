CREATE TABLE "reconcile_seen" (
	"tenant_id" integer NOT NULL,
	"run_id" text NOT NULL,
	"scope" text NOT NULL,
	"number" integer NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "reconcile_seen_tenant_id_run_id_scope_number_pk" PRIMARY KEY("tenant_id","run_id","scope","number")
);
--> statement-breakpoint
ALTER TABLE "reconcile_seen" ADD CONSTRAINT "reconcile_seen_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;