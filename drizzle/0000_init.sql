CREATE TABLE "api_keys" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "api_keys_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"tenant_id" integer NOT NULL,
	"prefix" text NOT NULL,
	"key_hash" text NOT NULL,
	"partner" text DEFAULT 'eConomic' NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "economic_booked_invoices" (
	"tenant_id" integer NOT NULL,
	"last_updated" timestamp with time zone,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"data" jsonb NOT NULL,
	"customer_number" integer,
	"project_number" integer,
	"currency" text,
	"net_amount" numeric,
	"gross_amount" numeric,
	"date" date,
	"booked_invoice_number" integer NOT NULL,
	"remainder" numeric,
	CONSTRAINT "economic_booked_invoices_tenant_id_booked_invoice_number_pk" PRIMARY KEY("tenant_id","booked_invoice_number")
);
--> statement-breakpoint
CREATE TABLE "economic_customers" (
	"tenant_id" integer NOT NULL,
	"last_updated" timestamp with time zone,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"data" jsonb NOT NULL,
	"customer_number" integer NOT NULL,
	"name" text,
	"currency" text,
	CONSTRAINT "economic_customers_tenant_id_customer_number_pk" PRIMARY KEY("tenant_id","customer_number")
);
--> statement-breakpoint
CREATE TABLE "economic_document_lines" (
	"tenant_id" integer NOT NULL,
	"last_updated" timestamp with time zone,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"data" jsonb NOT NULL,
	"document_type" text NOT NULL,
	"document_number" integer NOT NULL,
	"line_number" integer NOT NULL,
	"description" text,
	"product_number" text,
	"quantity" numeric,
	"unit_net_price" numeric,
	"total_net_amount" numeric,
	CONSTRAINT "economic_document_lines_tenant_id_document_type_document_number_line_number_pk" PRIMARY KEY("tenant_id","document_type","document_number","line_number")
);
--> statement-breakpoint
CREATE TABLE "economic_draft_invoices" (
	"tenant_id" integer NOT NULL,
	"last_updated" timestamp with time zone,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"data" jsonb NOT NULL,
	"customer_number" integer,
	"project_number" integer,
	"currency" text,
	"net_amount" numeric,
	"gross_amount" numeric,
	"date" date,
	"draft_invoice_number" integer NOT NULL,
	CONSTRAINT "economic_draft_invoices_tenant_id_draft_invoice_number_pk" PRIMARY KEY("tenant_id","draft_invoice_number")
);
--> statement-breakpoint
CREATE TABLE "economic_orders" (
	"tenant_id" integer NOT NULL,
	"last_updated" timestamp with time zone,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"data" jsonb NOT NULL,
	"customer_number" integer,
	"project_number" integer,
	"currency" text,
	"net_amount" numeric,
	"gross_amount" numeric,
	"date" date,
	"order_number" integer NOT NULL,
	"status" text NOT NULL,
	CONSTRAINT "economic_orders_tenant_id_order_number_pk" PRIMARY KEY("tenant_id","order_number")
);
--> statement-breakpoint
CREATE TABLE "economic_projects" (
	"tenant_id" integer NOT NULL,
	"last_updated" timestamp with time zone,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"data" jsonb NOT NULL,
	"project_number" integer NOT NULL,
	"name" text,
	"customer_number" integer,
	"is_closed" boolean DEFAULT false NOT NULL,
	CONSTRAINT "economic_projects_tenant_id_project_number_pk" PRIMARY KEY("tenant_id","project_number")
);
--> statement-breakpoint
CREATE TABLE "economic_quotes" (
	"tenant_id" integer NOT NULL,
	"last_updated" timestamp with time zone,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	"data" jsonb NOT NULL,
	"customer_number" integer,
	"project_number" integer,
	"currency" text,
	"net_amount" numeric,
	"gross_amount" numeric,
	"date" date,
	"quote_number" integer NOT NULL,
	"status" text NOT NULL,
	CONSTRAINT "economic_quotes_tenant_id_quote_number_pk" PRIMARY KEY("tenant_id","quote_number")
);
--> statement-breakpoint
CREATE TABLE "reconcile_state" (
	"tenant_id" integer NOT NULL,
	"scope" text NOT NULL,
	"watermark" timestamp with time zone,
	"last_run_at" timestamp with time zone,
	"last_full_run_at" timestamp with time zone,
	"last_summary" jsonb,
	CONSTRAINT "reconcile_state_tenant_id_scope_pk" PRIMARY KEY("tenant_id","scope")
);
--> statement-breakpoint
CREATE TABLE "sync_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"tenant_id" integer NOT NULL,
	"source" text NOT NULL,
	"kind" text NOT NULL,
	"number" integer NOT NULL,
	"old_number" integer,
	"received_at" timestamp with time zone NOT NULL,
	"workflow_id" text NOT NULL,
	"outcome" text NOT NULL,
	"relayed_at" timestamp with time zone,
	CONSTRAINT "sync_events_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "sync_state" (
	"tenant_id" integer NOT NULL,
	"kind" text NOT NULL,
	"number" integer NOT NULL,
	"workflow_id" text NOT NULL,
	"last_outcome" text NOT NULL,
	"last_error_type" text,
	"last_error" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_success_at" timestamp with time zone,
	CONSTRAINT "sync_state_tenant_id_kind_number_pk" PRIMARY KEY("tenant_id","kind","number")
);
--> statement-breakpoint
CREATE TABLE "tenant_credentials" (
	"tenant_id" integer PRIMARY KEY NOT NULL,
	"grant_ciphertext" text NOT NULL,
	"grant_fingerprint" text NOT NULL,
	"agreement_number" integer,
	"status" text DEFAULT 'unverified' NOT NULL,
	"status_reason" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"validated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "tenants_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenants_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_booked_invoices" ADD CONSTRAINT "economic_booked_invoices_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_booked_invoices" ADD CONSTRAINT "economic_booked_invoices_tenant_id_customer_number_economic_customers_tenant_id_customer_number_fk" FOREIGN KEY ("tenant_id","customer_number") REFERENCES "public"."economic_customers"("tenant_id","customer_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "economic_booked_invoices" ADD CONSTRAINT "economic_booked_invoices_tenant_id_project_number_economic_projects_tenant_id_project_number_fk" FOREIGN KEY ("tenant_id","project_number") REFERENCES "public"."economic_projects"("tenant_id","project_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "economic_customers" ADD CONSTRAINT "economic_customers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_document_lines" ADD CONSTRAINT "economic_document_lines_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_draft_invoices" ADD CONSTRAINT "economic_draft_invoices_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_draft_invoices" ADD CONSTRAINT "economic_draft_invoices_tenant_id_customer_number_economic_customers_tenant_id_customer_number_fk" FOREIGN KEY ("tenant_id","customer_number") REFERENCES "public"."economic_customers"("tenant_id","customer_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "economic_draft_invoices" ADD CONSTRAINT "economic_draft_invoices_tenant_id_project_number_economic_projects_tenant_id_project_number_fk" FOREIGN KEY ("tenant_id","project_number") REFERENCES "public"."economic_projects"("tenant_id","project_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "economic_orders" ADD CONSTRAINT "economic_orders_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_orders" ADD CONSTRAINT "economic_orders_tenant_id_customer_number_economic_customers_tenant_id_customer_number_fk" FOREIGN KEY ("tenant_id","customer_number") REFERENCES "public"."economic_customers"("tenant_id","customer_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "economic_orders" ADD CONSTRAINT "economic_orders_tenant_id_project_number_economic_projects_tenant_id_project_number_fk" FOREIGN KEY ("tenant_id","project_number") REFERENCES "public"."economic_projects"("tenant_id","project_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "economic_projects" ADD CONSTRAINT "economic_projects_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_projects" ADD CONSTRAINT "economic_projects_tenant_id_customer_number_economic_customers_tenant_id_customer_number_fk" FOREIGN KEY ("tenant_id","customer_number") REFERENCES "public"."economic_customers"("tenant_id","customer_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "economic_quotes" ADD CONSTRAINT "economic_quotes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "economic_quotes" ADD CONSTRAINT "economic_quotes_tenant_id_customer_number_economic_customers_tenant_id_customer_number_fk" FOREIGN KEY ("tenant_id","customer_number") REFERENCES "public"."economic_customers"("tenant_id","customer_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "economic_quotes" ADD CONSTRAINT "economic_quotes_tenant_id_project_number_economic_projects_tenant_id_project_number_fk" FOREIGN KEY ("tenant_id","project_number") REFERENCES "public"."economic_projects"("tenant_id","project_number") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "reconcile_state" ADD CONSTRAINT "reconcile_state_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_events" ADD CONSTRAINT "sync_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_state" ADD CONSTRAINT "sync_state_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_credentials" ADD CONSTRAINT "tenant_credentials_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_prefix_idx" ON "api_keys" USING btree ("prefix");--> statement-breakpoint
CREATE INDEX "sync_events_queued_idx" ON "sync_events" USING btree ("seq") WHERE "sync_events"."outcome" = 'queued';--> statement-breakpoint
CREATE INDEX "sync_events_tenant_idx" ON "sync_events" USING btree ("tenant_id","received_at");--> statement-breakpoint
CREATE INDEX "sync_state_outcome_idx" ON "sync_state" USING btree ("last_outcome");