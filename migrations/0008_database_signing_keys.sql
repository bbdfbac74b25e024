CREATE TABLE `signing_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`alg` text NOT NULL,
	`sealed_private_jwk` text NOT NULL,
	`public_jwk` text NOT NULL,
	`created_at` integer NOT NULL,
	`signs_from` integer,
	`retired_at` integer
);
--> statement-breakpoint
CREATE INDEX `signing_keys_retired_at` ON `signing_keys` (`retired_at`);