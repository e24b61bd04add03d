import type { Page } from '@playwright/test';
import { lies, startLyingProxy } from '../harness/lying-proxy.js';
import { balanceSat, expect, openTab, snap, test, type FulmenNode } from './fixtures.js';

/**
 * Bad input gets a clear inline message and changes nothing (DESIGN.md, "Safety rules"). Each
 * test checks the message where the user typed, then that balances, history, channels and wallet
 * state are what they were.
 */

async function openGui(page: Page, node: FulmenNode): Promise<void> {
  await page.goto(node.guiUrl);
  await expect(page.getByRole('tab', { name: 'History' })).toBeVisible();
}

/** What must not change: balances (from the daemon), history rows and channels. */
async function walletSnapshot(node: FulmenNode) {
  return {
    balance: await balanceSat(node),
    history: (await node.cli<unknown[]>('history')).length,
    channels: await node.cli<unknown[]>('list_channels').then((c) => c.length, () => 0),
  };
}

async function trySend(page: Page, text: string, amount?: string): Promise<void> {
  await openTab(page, 'Send');
  await page.getByLabel('Pay to').fill(text);
  if (amount !== undefined) await page.getByLabel(/^Amount/).fill(amount);
  await page.getByRole('button', { name: 'Review payment' }).click();
}

test('wizard: an invalid recovery phrase is refused inline and no wallet is created', async ({ page, fulmen }) => {
  const node = await fulmen('fresh', { wallet: 'none' });
  await page.goto(node.guiUrl);
  await page.getByRole('button', { name: /Restore a wallet/ }).click();
  const phrase = page.getByLabel('Recovery phrase');

  await phrase.fill('abandon abandon abandon');
  await page.getByRole('button', { name: 'Restore wallet' }).click();
  await expect(page.getByRole('alert')).toHaveText('A recovery phrase has 12 or 24 words; this one has 3');
  await expect(phrase).toHaveAttribute('aria-invalid', 'true');

  // Twelve real words with a bad checksum: only the host's BIP39 check can tell.
  await phrase.fill(Array(12).fill('abandon').join(' '));
  await page.getByRole('button', { name: 'Restore wallet' }).click();
  await expect(page.getByRole('alert')).toContainText(/checksum|invalid/i);
  await snap(page, 'wizard-invalid-mnemonic');

  await phrase.fill('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon zzzz');
  await page.getByRole('button', { name: 'Restore wallet' }).click();
  await expect(page.getByRole('alert')).toBeVisible();

  await expect(page.getByTestId('wizard')).toBeVisible();
  const info = await node.cli<{ wallet_exists: boolean; wallet_loaded: boolean }>('getinfo');
  expect(info).toMatchObject({ wallet_exists: false, wallet_loaded: false });
});

test('wizard: creating a wallet needs the chosen seed words typed back', async ({ page, fulmen }) => {
  const node = await fulmen('newcomer', { wallet: 'none' });
  await page.goto(node.guiUrl);
  await page.getByRole('button', { name: /Create a new wallet/ }).click();
  await page.getByRole('button', { name: 'Create wallet' }).click();
  await expect(page.getByTestId('seed-words').locator('li')).toHaveCount(12);
  const words = await page.getByTestId('seed-words').locator('.seed-word').allTextContents();
  expect(words).toHaveLength(12);
  await snap(page, 'wizard-seed');
  await page.getByLabel('I have written down my recovery phrase').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  const inputs = page.getByLabel(/^Word #\d+$/);
  await expect(inputs).toHaveCount(3);
  for (let i = 0; i < 3; i++) await inputs.nth(i).fill('wrong');
  await page.getByRole('button', { name: 'Open wallet' }).click();
  await expect(page.getByRole('alert').first()).toHaveText(/^This is not word #\d+ of your phrase$/);
  // The daemon opens a wallet as soon as `create` returns; the GUI keeps the user in the wizard.
  await expect(page.getByTestId('wizard')).toBeVisible();
  await expect(page.getByRole('tab', { name: 'History' })).toHaveCount(0);
  await snap(page, 'wizard-confirm-wrong');
  for (let i = 0; i < 3; i++) {
    const label = (await inputs.nth(i).getAttribute('id'))!;
    const n = Number((await page.locator(`label[for="${label}"]`).textContent())!.replace('Word #', ''));
    await inputs.nth(i).fill(words[n - 1]!);
  }
  await page.getByRole('button', { name: 'Open wallet' }).click();
  await expect(page.getByRole('tab', { name: 'History' })).toBeVisible();
  expect((await node.cli<{ wallet_loaded: boolean }>('getinfo')).wallet_loaded).toBe(true);
  await snap(page, 'wallet-empty-history');
});

test('Preferences: the unit applies everywhere; malformed addresses are refused inline and not saved; a lying server is listed as banned (live, while the tab is open) and can be unbanned', async ({ page, fulmen, regtest }) => {
  // A second server that lies about proof of work: banned as soon as it answers (core/chain/bans.ts).
  const liar = await startLyingProxy(regtest.electrumHost, regtest.electrumPort);
  liar.setLie(lies.badProofOfWorkTip());
  const node = await fulmen('erin', { servers: [liar.server] });
  await expect.poll(async () => (await node.cli<{ server: string }[]>('list_server_bans')).map((b) => b.server)).toEqual([liar.server]);
  await regtest.sendToAddress(await node.cli<string>('getunusedaddress'), '0.0015');
  await regtest.mine(1);
  await openGui(page, node);
  await expect(page.getByTestId('balance-onchain')).toHaveText('0.0015 BTC');
  await openTab(page, 'Preferences');
  await page.getByRole('radio', { name: 'sat' }).check();
  await expect(page.getByTestId('balance-onchain')).toHaveText('150\u2009000 sat');
  await expect.poll(() => node.cli('getconfig', 'base_unit')).toBe('sat');

  const server = await node.cli<string>('getconfig', 'server');
  await page.getByLabel('Electrum server', { exact: true }).fill('electrum.example.org');
  await page.getByRole('button', { name: 'Save Electrum server' }).click();
  await expect(page.getByRole('alert')).toHaveText('Use host:port, optionally followed by :s (TLS) or :t (plain)');
  await page.getByLabel('Lightning listen address', { exact: true }).fill('127.0.0.1:port');
  await page.getByRole('button', { name: 'Save Lightning listen address' }).click();
  await expect(page.getByRole('alert').last()).toHaveText('Use host:port, for example 127.0.0.1:9735');
  await snap(page, 'preferences-invalid');
  expect(await node.cli<string>('getconfig', 'server')).toBe(server);

  const ban = page.getByRole('list', { name: 'Banned servers' }).getByTestId('server-ban');
  await expect(ban).toHaveCount(1);
  await expect(ban).toContainText(liar.server);
  await expect(ban).toContainText(/proof of work/);
  await expect(ban).toContainText(/Banned until \d{1,2} \w{3} \d{4}, \d{2}:\d{2}/);
  await snap(page, 'preferences-server-ban');
  liar.setLie(null); // honest from now on, so that the reconnection after the unban keeps it
  await page.getByRole('button', { name: `Unban ${liar.server}` }).click();
  await expect(page.getByText('No server is banned')).toBeVisible();
  expect(await node.cli('list_server_bans')).toEqual([]);

  // Caught lying again while Preferences stays open (its next tip fails proof of work): the ban is
  // pushed to the GUI (`server_bans` event) and listed without reopening the tab.
  liar.setLie(lies.badProofOfWorkTip());
  await regtest.mine(1);
  await expect(ban).toHaveCount(1);
  await expect(ban).toContainText(liar.server);
  await expect(ban).toContainText(/proof of work/);
  liar.setLie(null);
  await page.getByRole('button', { name: `Unban ${liar.server}` }).click();
  await expect(page.getByText('No server is banned')).toBeVisible();
  expect(await node.cli('list_server_bans')).toEqual([]);
  await liar.close();

  await openTab(page, 'History');
  await expect(page.getByTestId('history-amount')).toHaveText('+150\u2009000 sat');
});

test.describe('Send refuses bad input', () => {
  test('bad addresses, garbage and amounts above the balance', async ({ page, fulmen, regtest }) => {
    const node = await fulmen('carol');
    await regtest.sendToAddress(await node.cli<string>('getunusedaddress'), '0.01');
    await regtest.mine(1);
    await openGui(page, node);
    await expect(page.getByTestId('balance-onchain')).toHaveText('0.01 BTC');
    const before = await walletSnapshot(node);

    // Bech32 checksum error (last character of a real address changed): the shape is right,
    // only the host's validation can reject it.
    const own = await node.cli<string>('getunusedaddress');
    const corrupted = own.slice(0, -1) + (own.endsWith('q') ? 'p' : 'q');
    await trySend(page, corrupted, '0.001');
    await expect(page.getByRole('alert')).toHaveText('This is not a valid regtest bitcoin address');
    await snap(page, 'send-bad-address');

    await trySend(page, 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4');
    await expect(page.getByRole('alert')).toHaveText('This address is for mainnet; this wallet runs on regtest');

    await trySend(page, 'hello there');
    await expect(page.getByRole('alert')).toHaveText('Paste a Lightning invoice, a bitcoin: payment link or a bitcoin address');

    await trySend(page, 'bitcoin:bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080?amount=1e-3');
    await expect(page.getByRole('alert')).toHaveText('The amount "1e-3" in the payment link is not a BTC number');

    await trySend(page, own, '1');
    await expect(page.getByRole('alert')).toHaveText('The amount is more than your on-chain balance.');
    await snap(page, 'send-amount-above-balance');

    // Everything but the fee: the host's coin selection reports the shortfall.
    await trySend(page, own, '0.01');
    await expect(page.getByRole('alert')).toHaveText('The amount plus the network fee is more than your balance.');

    await expect(page.getByRole('heading', { name: 'Confirm payment' })).toHaveCount(0);
    expect(await walletSnapshot(node)).toEqual(before);
  });

  test('malformed invoices', async ({ page, fulmen }) => {
    const node = await fulmen('dave');
    await openGui(page, node);
    const before = await walletSnapshot(node);
    await trySend(page, 'lnbcrt1qqqqqqqqqqqqqqqqqqqqqqqqq');
    await expect(page.getByRole('alert')).toBeVisible();
    const message = await page.getByRole('alert').textContent();
    expect(message).toMatch(/invoice/i);
    await snap(page, 'send-malformed-invoice');
    await trySend(page, 'lnbcrt1Mixed');
    await expect(page.getByRole('alert')).toHaveText('This does not look like a valid Lightning invoice');
    expect(await walletSnapshot(node)).toEqual(before);
  });
});

test.describe('Lightning bad input', () => {
  test('expired and already-paid invoices, amounts above capacity, unreachable peers', async ({ page, fulmen, regtest }) => {
    test.setTimeout(8 * 60_000);
    const alice = await fulmen('alice');
    const bob = await fulmen('bob');
    await regtest.sendToAddress(await alice.cli<string>('getunusedaddress'), '0.1');
    await regtest.mine(1);
    await expect.poll(async () => (await balanceSat(alice)).confirmed, { timeout: 60_000 }).toBe(10_000_000);
    const bobNode = await bob.cli<string>('nodeid');
    await alice.cli('open_channel', bobNode, '0.02');
    await regtest.mine(6);
    await expect
      .poll(async () => (await alice.cli<{ state: string }[]>('list_channels'))[0]?.state, { timeout: 90_000, message: 'channel open' })
      .toBe('OPEN');
    const paid = await bob.cli<{ lightning_invoice: string }>('add_request', '0.0001', '--memo', 'paid once');
    await alice.cli('lnpay', paid.lightning_invoice);
    const expired = await bob.cli<{ lightning_invoice: string }>('add_request', '0.0001', '--memo', 'short-lived', '--expiry', '1');
    const big = await bob.cli<{ lightning_invoice: string }>('add_request', '0.05', '--memo', 'too big', '--force');
    await new Promise((r) => setTimeout(r, 2_000));

    await openGui(page, alice);
    const before = await walletSnapshot(alice);

    await trySend(page, paid.lightning_invoice);
    await expect(page.getByRole('alert')).toHaveText('You have already paid this invoice.');
    await snap(page, 'send-already-paid');

    await trySend(page, expired.lightning_invoice);
    await expect(page.getByRole('alert')).toHaveText('This invoice has expired. Ask the recipient for a new one.');
    await snap(page, 'send-expired');

    await trySend(page, big.lightning_invoice);
    await expect(page.getByRole('alert')).toHaveText('The amount is more than you can send over Lightning right now.');

    await openTab(page, 'Channels');
    await page.getByRole('button', { name: 'Open channel' }).click();
    const dialog = page.getByRole('dialog', { name: 'Open channel' });
    await dialog.getByLabel('Node').fill('not a node');
    await dialog.getByLabel(/^Amount/).fill('0.01');
    await dialog.getByRole('button', { name: 'Open channel' }).click();
    await expect(dialog.getByRole('alert')).toHaveText('Enter the node as nodeid@host:port (the node id is 66 hex characters)');
    // A valid public key (secp256k1's generator point) on a port nobody listens on.
    await dialog.getByLabel('Node').fill('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798@127.0.0.1:1');
    await dialog.getByRole('button', { name: 'Open channel' }).click();
    await expect(dialog.getByTestId('open-error')).toBeVisible({ timeout: 60_000 });
    expect(await dialog.getByTestId('open-error').textContent()).toMatch(/connect|reach|refused/i);
    await snap(page, 'open-channel-unreachable');

    expect(await walletSnapshot(alice)).toEqual(before);
  });
});
