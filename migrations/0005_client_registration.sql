CREATE TABLE `initial_access_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`note` text DEFAULT '' NOT NULL,
	`uses_left` integer,
	`expires_at` integer,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL
);
--> statement-breakpoint
ALTER TABLE `clients` ADD `source` text DEFAULT 'admin' NOT NULL;--> statement-breakpoint
ALTER TABLE `clients` ADD `registration_access_token_hash` text;--> statement-breakpoint
ALTER TABLE `clients` ADD `resources` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `clients` ADD `metadata` text;--> statement-breakpoint
ALTER TABLE `clients` ADD `metadata_expires_at` integer;