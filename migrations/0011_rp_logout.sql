CREATE TABLE `session_clients` (
	`sid` text NOT NULL,
	`session_id` text NOT NULL,
	`client_id` text NOT NULL,
	`user_id` text NOT NULL,
	`issuer` text NOT NULL,
	`created_at` integer NOT NULL,
	`logout_attempts` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`sid`, `client_id`),
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `session_clients_session_id` ON `session_clients` (`session_id`);--> statement-breakpoint
CREATE INDEX `session_clients_client_id` ON `session_clients` (`client_id`);--> statement-breakpoint
ALTER TABLE `clients` ADD `backchannel_logout_uri` text;--> statement-breakpoint
ALTER TABLE `clients` ADD `backchannel_logout_session_required` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `clients` ADD `frontchannel_logout_uri` text;--> statement-breakpoint
ALTER TABLE `clients` ADD `frontchannel_logout_session_required` integer DEFAULT false NOT NULL;