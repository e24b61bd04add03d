/**
 * Static channel backups (Electrum `export_channel_backup` / `import_channel_backup`): what a
 * wallet restored from its seed needs to get a channel's funds back, and nothing that goes stale
 * (no balances, no commitment numbers): the funding outpoint, the peer and where to reach it,
 * how our keys derive from the seed, and the peer's static channel parameters (its basepoints and
 * the to_self_delay it imposed on our to_local). With it a restored wallet asks the peer to force
 * close (request_force_close) and sweeps to_remote, or finds its own published commitment and
 * sweeps to_local after to_self_delay.
 *
 * Text format: "fulmen_backup:" || base64( 0x01 || nonce (24) || XChaCha20-Poly1305(key, nonce,
 * aad = "fulmen/channel-backup/v1", JSON of BackupContents) ), with
 * key = HMAC-SHA256(lightningRootSecret, "fulmen/channel-backup"): only the same seed opens it.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, randomBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { FulmenError } from '../../util/errors.js';
import type { NetworkName } from '../../bitcoin/network.js';

export const BACKUP_PREFIX = 'fulmen_backup:';
const VERSION = 1;
const NONCE_BYTES = 24;
const AAD = new TextEncoder().encode('fulmen/channel-backup/v1');

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
const point = hex(33);
const u16 = z.number().int().min(0).max(0xffff);

const keyDerivationSchema = z.discriminatedUnion('scheme', [
  z.object({ scheme: z.literal('opened'), remoteNodeId: point, fundingLocktime: z.number().int().min(0).max(0xffffffff) }).strict(),
  z.object({ scheme: z.literal('accepted'), remoteNodeId: point, remoteFundingPubkey: point }).strict(),
]);

const contentsSchema = z
  .object({
    version: z.literal(VERSION),
    network: z.enum(['mainnet', 'testnet', 'testnet4', 'signet', 'regtest']),
    channelId: hex(32),
    fundingTxid: hex(32),
    fundingOutputIndex: u16,
    fundingSat: z.number().int().positive(),
    /** P2WSH of the 2-of-2 funding script, hex (what the watcher subscribes to). */
    fundingScriptPubKey: hex(34),
    remoteNodeId: point,
    host: z.string().min(1).max(255).nullable(),
    port: z.number().int().min(1).max(65535).nullable(),
    isInitiator: z.boolean(),
    /** Legacy channels: the key index of keys.ts deriveChannelSecrets (null for recoverable keys). */
    keyIndex: z.number().int().min(0).max(0xffffffff).nullable(),
    keyDerivation: keyDerivationSchema.nullable(),
    remote: z
      .object({
        fundingPubkey: point,
        revocationBasepoint: point,
        paymentBasepoint: point,
        delayedPaymentBasepoint: point,
        htlcBasepoint: point,
        /** to_self_delay the peer set: applies to OUR to_local outputs. */
        toSelfDelay: u16,
        dustLimitSat: z.number().int().min(0),
      })
      .strict(),
    local: z.object({ toSelfDelay: u16, dustLimitSat: z.number().int().min(0) }).strict(),
    /** Unix seconds. */
    createdAt: z.number().int().min(0),
  })
  .strict()
  .refine((c) => (c.keyIndex === null) !== (c.keyDerivation === null), 'exactly one of keyIndex and keyDerivation');

/** The decrypted backup of one channel (all hex lower case, amounts in sat). */
export type BackupContents = z.infer<typeof contentsSchema>;

/** HMAC-SHA256(lightningRootSecret, "fulmen/channel-backup"). */
export function channelBackupKey(lightningRootSecret: Uint8Array): Uint8Array {
  return hmac(sha256, lightningRootSecret, new TextEncoder().encode('fulmen/channel-backup'));
}

/**
 * Encrypts a backup for the wallet with this Lightning root secret.
 * @throws FulmenError INTERNAL when `contents` is not a valid backup (a bug of the caller).
 */
export function encodeChannelBackup(lightningRootSecret: Uint8Array, contents: BackupContents): string {
  const checked = contentsSchema.safeParse(contents);
  if (!checked.success) throw new FulmenError('INTERNAL', 'Invalid channel backup contents');
  const nonce = randomBytes(NONCE_BYTES);
  const sealed = xchacha20poly1305(channelBackupKey(lightningRootSecret), nonce, AAD).encrypt(new TextEncoder().encode(JSON.stringify(checked.data)));
  return BACKUP_PREFIX + Buffer.from(concatBytes(Uint8Array.of(VERSION), nonce, sealed)).toString('base64');
}

/**
 * Decrypts and checks a backup made by `encodeChannelBackup`.
 * @throws FulmenError BAD_INPUT: not a Fulmen channel backup, made by a wallet with another seed
 *   (or damaged), or for another network.
 */
export function decodeChannelBackup(lightningRootSecret: Uint8Array, text: string, network: NetworkName): BackupContents {
  const trimmed = text.trim();
  if (!trimmed.startsWith(BACKUP_PREFIX)) throw new FulmenError('BAD_INPUT', `Not a Fulmen channel backup (expected "${BACKUP_PREFIX}...")`);
  const body = trimmed.slice(BACKUP_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new FulmenError('BAD_INPUT', 'Channel backup: invalid base64');
  const bytes = new Uint8Array(Buffer.from(body, 'base64'));
  if (bytes.length < 1 + NONCE_BYTES + 16 || bytes[0] !== VERSION) throw new FulmenError('BAD_INPUT', 'Channel backup: unknown version or truncated');
  let plaintext: Uint8Array;
  try {
    plaintext = xchacha20poly1305(channelBackupKey(lightningRootSecret), bytes.slice(1, 1 + NONCE_BYTES), AAD).decrypt(bytes.slice(1 + NONCE_BYTES));
  } catch {
    throw new FulmenError('BAD_INPUT', 'Cannot decrypt this channel backup: it was made by a wallet with another seed, or it is damaged');
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    throw new FulmenError('BAD_INPUT', 'Channel backup: malformed contents');
  }
  const parsed = contentsSchema.safeParse(json);
  if (!parsed.success) throw new FulmenError('BAD_INPUT', 'Channel backup: malformed contents');
  if (parsed.data.network !== network) throw new FulmenError('BAD_INPUT', `This channel backup is for ${parsed.data.network}, not ${network}`);
  return parsed.data;
}
