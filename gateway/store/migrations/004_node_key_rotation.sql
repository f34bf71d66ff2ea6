-- Node key rotation with overlap (docs/edge-nodes.md, "Key rotation"): after a rotation the
-- previous key keeps working until previous_key_expires_at (NODE_KEY_ROTATION_GRACE_SECONDS) or
-- until the new key is first used, whichever comes first. Only digests are stored. The new raw key
-- is never stored either: a retried rotation re-derives it from the presented previous key, this
-- per-rotation nonce and a server secret (gateway/auth/node-key-rotation.ts).

ALTER TABLE nodes
  ADD COLUMN previous_key_hash       text UNIQUE CHECK (previous_key_hash ~ '^[0-9a-f]{64}$'),
  ADD COLUMN previous_key_expires_at timestamptz,
  ADD COLUMN rotation_nonce          bytea CHECK (octet_length(rotation_nonce) = 32),
  ADD CONSTRAINT nodes_previous_key_complete CHECK (
    (previous_key_hash IS NULL) = (previous_key_expires_at IS NULL)
    AND (previous_key_hash IS NULL) = (rotation_nonce IS NULL)
  );
