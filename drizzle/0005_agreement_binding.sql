CREATE TABLE "grant_candidates" (
	"tenant_id" integer NOT NULL,
	"fingerprint" text NOT NULL,
	"ciphertext" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"refused_agreement_number" integer,
	"verifying_until" timestamp with time zone,
	CONSTRAINT "grant_candidates_tenant_id_fingerprint_pk" PRIMARY KEY("tenant_id","fingerprint")
);
--> statement-breakpoint
CREATE TABLE "tenant_kind_access" (
	"tenant_id" integer NOT NULL,
	"kind" text NOT NULL,
	"reason" text NOT NULL,
	"since" timestamp with time zone DEFAULT now() NOT NULL,
	"next_check_at" timestamp with time zone NOT NULL,
	CONSTRAINT "tenant_kind_access_tenant_id_kind_pk" PRIMARY KEY("tenant_id","kind")
);
--> statement-breakpoint
ALTER TABLE "tenant_credentials" ALTER COLUMN "grant_ciphertext" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "tenant_credentials" ALTER COLUMN "grant_fingerprint" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "tenant_credentials" ADD COLUMN "refused_agreement_number" integer;--> statement-breakpoint
ALTER TABLE "tenant_credentials" ADD COLUMN "refused_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tenant_credentials" ADD COLUMN "next_check_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tenant_credentials" ADD COLUMN "failed_checks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tenant_credentials" ADD COLUMN "last_check_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "grant_candidates" ADD CONSTRAINT "grant_candidates_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_kind_access" ADD CONSTRAINT "tenant_kind_access_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;