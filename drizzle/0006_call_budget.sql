CREATE TABLE "economic_agreement_pauses" (
	"agreement_number" integer PRIMARY KEY NOT NULL,
	"paused_until" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "economic_call_budget" (
	"agreement_number" integer NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "economic_call_budget_agreement_number_window_start_pk" PRIMARY KEY("agreement_number","window_start")
);
