import type { Browser, Page } from '@playwright/test';
import { balanceSat, expect, openTab, snap, test } from './fixtures.js';

/**
 * Force close from the Channels tab, as a user would: the confirmation dialog, then the channel
 * card shows the close (our commitment), what is still locked and until which block, and the
 * to_local sweep once to_self_delay has passed, with links from the sweep to its History entry
 * (labelled by the watcher). Setup that is not under test (funding, opening the channel, mining)
 * uses the CLI and the harness. Bob asks Alice for the default to_self_delay (144 blocks).
 */

async function openGui(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await expect(page.getByRole('tab', { name: 'History' })).toBeVisible();
  return page;
}

test('force close from the Channels tab: locked until to_self_delay, then swept', async ({ regtest, fulmen, browser }) => {
  test.setTimeout(10 * 60_000);
  const alice = await fulmen('alice');
  const bob = await fulmen('bob');
  await regtest.sendToAddress(await alice.cli<string>('getunusedaddress'), '0.5');
  await regtest.mine(1);
  const page = await openGui(browser, alice.guiUrl);
  await expect(page.getByTestId('balance-onchain')).toHaveText('0.5 BTC');

  const channelPoint = await alice.cli<string>('open_channel', await bob.cli<string>('nodeid'), '0.02');
  await regtest.mine(6);
  await openTab(page, 'Channels');
  const row = page.locator(`[data-channel-point="${channelPoint}"]`);
  await expect(row.getByTestId('channel-state')).toHaveText('Open', { timeout: 60_000 });
  // An option_anchors channel: 10,000 sat stay on chain for the fees of its force close (core/wallet/reserve.ts).
  await expect(page.getByTestId('balance-reserved')).toHaveText('0.0001 BTC');

  await test.step('the backup dialog shows the channel backup; the import dialog decrypts it and refuses garbage', async () => {
    await row.getByRole('button', { name: 'Backup' }).click();
    const dialog = page.getByRole('dialog', { name: 'Channel backup' });
    await expect(dialog.getByTestId('backup-text')).toBeVisible();
    const backup = (await dialog.getByTestId('backup-text').textContent())!;
    expect(backup).toMatch(/^fulmen_backup:[A-Za-z0-9+/]+=*$/); // encrypted with a fresh nonce each time
    await snap(page, 'channel-backup');
    await dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Import backup' }).click();
    const importing = page.getByRole('dialog', { name: 'Import channel backup' });
    await importing.getByLabel('Backup').fill('fulmen_backup:not-a-backup');
    await importing.getByRole('button', { name: 'Import' }).click();
    await expect(importing.getByRole('alert')).toBeVisible();
    await importing.getByLabel('Backup').fill(backup);
    await importing.getByRole('button', { name: 'Import' }).click();
    // It decrypts with this wallet's seed; the channel itself is here, so it is not imported twice.
    await expect(importing.getByRole('alert')).toHaveText('This channel is in the wallet already: its backup is not needed');
    await importing.getByRole('button', { name: 'Cancel' }).click();
  });

  let closingTxid = '';
  await test.step('Alice force-closes after confirming', async () => {
    await row.getByRole('button', { name: 'Force close' }).click();
    const dialog = page.getByRole('dialog', { name: 'Force close channel' });
    await expect(dialog).toContainText('stays locked');
    await snap(page, 'force-close-confirm');
    await dialog.getByTestId('force-close-confirm').click();
    await expect(dialog.getByTestId('force-close-success')).toBeVisible({ timeout: 60_000 });
    closingTxid = (await dialog.getByTestId('force-close-txid').textContent())!;
    expect(closingTxid).toMatch(/^[0-9a-f]{64}$/);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await expect(row.getByTestId('channel-state')).toHaveText('Force closing');
    await expect(row.getByTestId('channel-close-kind')).toContainText('You force-closed');
    await expect(row.getByTestId('channel-closing-txid')).toHaveText(closingTxid);
    await expect(row.getByTestId('channel-closing-height')).toHaveText('waiting for confirmation');
    await expect(row.getByTestId('channel-locked')).toContainText('until the closing transaction confirms, then 144 more blocks');
    await snap(page, 'force-closing');
  });

  let unlockHeight = 0;
  await test.step('once the commitment confirms, the card says until which block the balance is locked', async () => {
    await regtest.mine(1);
    const closeHeight = await regtest.rpc<number>('getblockcount');
    unlockHeight = closeHeight + 144;
    await expect(row.getByTestId('channel-state')).toHaveText('Closed', { timeout: 60_000 });
    await expect(row.getByTestId('channel-closing-height')).toHaveText(`confirmed in block ${closeHeight}`);
    await expect(row.getByTestId('channel-locked-until')).toHaveText(String(unlockHeight));
    await expect(row.getByTestId('channel-locked')).toContainText('(in 143 blocks)');
    const sweep = row.getByTestId('channel-sweep');
    await expect(sweep).toHaveCount(1);
    await expect(sweep).toHaveAttribute('data-kind', 'to_local');
    await expect(sweep).toHaveAttribute('data-status', 'waiting');
    await expect(sweep).toContainText(`Locked until block ${unlockHeight}`);
    await snap(page, 'force-closed-locked');
  });

  await test.step('after to_self_delay the sweep is broadcast, then confirmed; its History entry is labelled', async () => {
    const before = await balanceSat(alice);
    await regtest.mine(unlockHeight - 1 - (await regtest.rpc<number>('getblockcount')));
    const sweep = row.getByTestId('channel-sweep');
    await expect(sweep).toHaveAttribute('data-status', 'broadcast', { timeout: 60_000 });
    const sweepTxid = (await sweep.getByTestId('channel-sweep-txid').textContent())!;
    expect(sweepTxid).toMatch(/^[0-9a-f]{64}$/);
    expect(await regtest.rpc<string[]>('getrawmempool')).toContain(sweepTxid);
    await regtest.mine(1);
    await expect(sweep).toHaveAttribute('data-status', 'confirmed', { timeout: 60_000 });
    await expect(row.getByTestId('channel-unlocked')).toBeVisible();
    await expect.poll(async () => (await balanceSat(alice)).confirmed, { timeout: 60_000 }).toBeGreaterThan(before.confirmed + 1_900_000);
    await snap(page, 'force-close-swept');
    await sweep.getByRole('button', { name: 'History' }).click();
    await expect(page.getByRole('tab', { name: 'History' })).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByTestId('history-row').filter({ hasText: 'Force close: our channel balance' })).toHaveCount(1);
    // The link opens the sweep's details.
    const details = page.getByRole('dialog', { name: 'Transaction' });
    await expect(details).toContainText(sweepTxid);
    await snap(page, 'force-close-history');
    await details.getByRole('button', { name: 'Close dialog' }).click();
    await expect(details).toHaveCount(0);
  });
});

test('restored from seed: import the channel backup, request a force close from the Channels tab, the balance comes back', async ({ regtest, fulmen, browser }) => {
  test.setTimeout(10 * 60_000);
  // BIP39 test mnemonic: the restored wallet has the same seed, hence the same node id and channel keys.
  const mnemonic = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
  const alice = await fulmen('alice', { wallet: 'restore', mnemonic });
  const bob = await fulmen('bob');
  await regtest.sendToAddress(await alice.cli<string>('getunusedaddress'), '0.5');
  await regtest.mine(1);
  await expect.poll(async () => (await balanceSat(alice)).confirmed, { timeout: 60_000 }).toBe(50_000_000);
  const channelPoint = await alice.cli<string>('open_channel', await bob.cli<string>('nodeid'), '0.02');
  await regtest.mine(6);
  await expect
    .poll(async () => (await alice.cli<{ channel_point: string; state: string }[]>('list_channels')).find((c) => c.channel_point === channelPoint)?.state, { timeout: 60_000 })
    .toBe('OPEN');
  const backup = await alice.cli<string>('export_channel_backup', channelPoint);
  await alice.stop(); // the machine is lost with its wallet file

  const restored = await fulmen('alice-restored', { wallet: 'restore', mnemonic });
  const page = await openGui(browser, restored.guiUrl);
  const before = await balanceSat(restored);
  await openTab(page, 'Channels');
  await test.step('Alice imports the backup in the Channels tab', async () => {
    await page.getByRole('button', { name: 'Import backup' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import channel backup' });
    await dialog.getByLabel('Backup').fill(backup);
    await dialog.getByRole('button', { name: 'Import' }).click();
    await expect(dialog.getByTestId('import-backup-success')).toHaveText(`Channel backup imported: ${channelPoint}`);
    await dialog.getByRole('button', { name: 'Done' }).click();
  });
  const row = page.locator(`[data-channel-point="${channelPoint}"]`);
  await expect(row.getByTestId('channel-state')).toHaveText('Backup');
  await expect(row.getByTestId('channel-backup-only')).toBeVisible();
  await snap(page, 'restored-backup-channel');

  await test.step('Alice asks Bob to force close; Bob\'s commitment confirms and her balance is swept', async () => {
    await row.getByRole('button', { name: 'Request force close' }).click();
    const dialog = page.getByRole('dialog', { name: 'Request force close' });
    await dialog.getByRole('button', { name: 'Request force close' }).click();
    await expect(dialog.getByTestId('request-force-close-success')).toBeVisible({ timeout: 60_000 });
    await dialog.getByRole('button', { name: 'Done' }).click();
    await expect(row.getByTestId('channel-state')).toHaveText('Force closing', { timeout: 60_000 });
    await expect(row.getByTestId('channel-closing-txid')).toHaveText(/^[0-9a-f]{64}$/);
    await regtest.mine(2); // to_remote of an anchors commitment waits one block (CSV 1)
    const sweep = row.getByTestId('channel-sweep');
    await expect(sweep).toHaveAttribute('data-kind', 'to_remote', { timeout: 60_000 });
    await regtest.mine(1);
    await expect(sweep).toHaveAttribute('data-status', 'confirmed', { timeout: 60_000 });
    await expect.poll(async () => (await balanceSat(restored)).confirmed, { timeout: 60_000 }).toBeGreaterThan(before.confirmed + 1_990_000);
    await snap(page, 'restored-swept');
  });
});
