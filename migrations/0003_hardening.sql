DROP TABLE `login_throttle`;--> statement-breakpoint
ALTER TABLE `clients` ADD `previous_secret_hash` text;--> statement-breakpoint
ALTER TABLE `clients` ADD `previous_secret_expires_at` integer;--> statement-breakpoint
ALTER TABLE `clients` ADD `application_type` text DEFAULT 'web' NOT NULL;--> statement-breakpoint
ALTER TABLE `consents` ADD `claims` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `consents` ADD `redirect_uris` text DEFAULT '[]' NOT NULL;