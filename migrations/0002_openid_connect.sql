ALTER TABLE `clients` ADD `id_token_signed_response_alg` text DEFAULT 'RS256' NOT NULL;--> statement-breakpoint
ALTER TABLE `clients` ADD `subject_type` text DEFAULT 'public' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `claims` text;