CREATE TABLE `device_authorizations` (
	`device_code_hash` text PRIMARY KEY NOT NULL,
	`user_code` text NOT NULL,
	`client_id` text NOT NULL,
	`scope` text NOT NULL,
	`resources` text DEFAULT '[]' NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`user_id` text,
	`auth_time` integer,
	`interval` integer NOT NULL,
	`last_polled_at` integer,
	`expires_at` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `device_authorizations_user_code_unique` ON `device_authorizations` (`user_code`);--> statement-breakpoint
CREATE INDEX `device_authorizations_expires_at` ON `device_authorizations` (`expires_at`);--> statement-breakpoint
CREATE TABLE `spent_ids` (
	`id` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `spent_ids_expires_at` ON `spent_ids` (`expires_at`);--> statement-breakpoint
ALTER TABLE `clients` ADD `jwks` text;--> statement-breakpoint
ALTER TABLE `clients` ADD `jwks_uri` text;--> statement-breakpoint
ALTER TABLE `clients` ADD `secret_sealed` text;--> statement-breakpoint
ALTER TABLE `clients` ADD `require_pushed_authorization_requests` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `clients` ADD `dpop_bound_access_tokens` integer DEFAULT false NOT NULL;