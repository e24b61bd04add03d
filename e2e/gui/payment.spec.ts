import type { Browser, Page } from '@playwright/test';
import { launchWithCameraShowing } from './browser.js';
import { balanceSat, decodeQrCanvas, expect, openTab, snap, test, type FulmenNode } from './fixtures.js';

/**
 * The payment scenarios, driven through the GUI as a user would: receive, scan with the camera,
 * confirm, pay; channels opened and closed from the Channels tab. Setup that is not under test
 * (funding from the regtest miner, mining blocks) uses the harness.
 */

async function openGui(browser: Browser, node: FulmenNode): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(node.guiUrl);
  await expect(page.getByRole('tab', { name: 'History' })).toBeVisible();
  return page;
}

/** Creates a request in the Receive tab; returns the invoice and the bitcoin: link shown. */
async function createRequest(page: Page, amountBtc: string, memo: string): Promise<{ invoice: string | null; uri: string }> {
  await openTab(page, 'Receive');
  await page.getByLabel(/^Amount/).fill(amountBtc);
  await page.getByLabel('Description').fill(memo);
  await page.getByRole('button', { name: 'Create request' }).click();
  const detail = page.getByTestId('request-detail');
  await expect(detail).toBeVisible();
  await expect(detail.getByRole('heading', { name: memo })).toBeVisible();
  const uri = (await page.getByTestId('uri-text').textContent())!;
  const invoice = (await page.getByTestId('invoice-text').count()) ? await page.getByTestId('invoice-text').textContent() : null;
  return { invoice, uri };
}

/** Opens Send in a browser whose camera shows `text`, scans it, and returns that page at review. */
async function scanAndReview(cameraBrowser: Browser, node: FulmenNode, text: string): Promise<Page> {
  const page = await openGui(cameraBrowser, node);
  await openTab(page, 'Send');
  await page.getByRole('button', { name: 'Scan QR code' }).click();
  await expect(page.getByTestId('camera-video')).toBeVisible();
  await expect(page.getByLabel('Pay to')).toHaveValue(text, { timeout: 30_000 });
  return page;
}

async function historyRows(page: Page) {
  await openTab(page, 'History');
  return page.getByTestId('history-row');
}

test('on-chain: receive from the Receive tab, pay a scanned payment link', async ({ regtest, fulmen, browser }, testInfo) => {
  const alice = await fulmen('alice');
  const bob = await fulmen('bob');
  const alicePage = await openGui(browser, alice);
  const bobPage = await openGui(browser, bob);

  await test.step('Alice shows a payment link and its QR code encodes exactly that link', async () => {
    const { uri } = await createRequest(alicePage, '0.5', 'Funding');
    expect(uri).toMatch(/^bitcoin:bcrt1[a-z0-9]+\?amount=0\.5&message=Funding/);
    expect(await decodeQrCanvas(alicePage, 'uri-qr')).toBe(uri);
    await snap(alicePage, 'alice-receive');
    const address = uri.slice('bitcoin:'.length).split('?')[0]!;
    await regtest.sendToAddress(address, '0.5');
    await regtest.mine(1);
    await expect(alicePage.getByTestId('balance-onchain')).toHaveText('0.5 BTC');
  });

  await test.step('Alice sees the deposit in History', async () => {
    const rows = await historyRows(alicePage);
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toHaveAttribute('data-direction', 'received');
    await expect(rows.first().getByTestId('history-amount')).toHaveText('+0.5 BTC');
    await expect(rows.first().getByTestId('history-status')).toHaveText('1 confirmation');
    await snap(alicePage, 'alice-history-funded');
  });

  const { uri: bobUri } = await createRequest(bobPage, '0.1', 'Bike repair');
  expect(await decodeQrCanvas(bobPage, 'uri-qr')).toBe(bobUri);

  const camera = await launchWithCameraShowing(bobUri, testInfo.outputPath('bob-uri.y4m'));
  try {
    const scanPage = await test.step('Alice scans Bob\'s link with the camera', () => scanAndReview(camera, alice, bobUri));
    await test.step('Alice reviews amount and fee, then sends', async () => {
      await scanPage.getByRole('button', { name: 'Review payment' }).click();
      await expect(scanPage.getByRole('heading', { name: 'Confirm payment' })).toBeVisible();
      await expect(scanPage.getByTestId('review-amount')).toHaveText('0.1 BTC');
      await expect(scanPage.getByTestId('review-fee')).toContainText('sat/vB');
      await snap(scanPage, 'alice-send-review');
      await scanPage.getByRole('button', { name: 'Send', exact: true }).click();
      await expect(scanPage.getByTestId('send-success')).toBeVisible();
      await expect(scanPage.getByTestId('send-reference')).toHaveText(/^[0-9a-f]{64}$/);
      await snap(scanPage, 'alice-send-done');
    });
  } finally {
    await camera.close();
  }

  await test.step('after a block, both histories show the payment', async () => {
    await regtest.mine(1);
    const aliceRows = await historyRows(alicePage);
    await expect(aliceRows).toHaveCount(2);
    await expect(aliceRows.first()).toHaveAttribute('data-direction', 'sent');
    await expect(aliceRows.first().getByTestId('history-amount')).toHaveText(/^−0\.1\d* BTC$/);
    const bobRows = await historyRows(bobPage);
    await expect(bobRows).toHaveCount(1);
    await expect(bobRows.first().getByTestId('history-amount')).toHaveText('+0.1 BTC');
    await expect(bobPage.getByTestId('balance-onchain')).toHaveText('0.1 BTC');
    await snap(alicePage, 'alice-history-sent');
    await snap(bobPage, 'bob-history-received');
  });

  await test.step('Bob\'s request shows as paid', async () => {
    await openTab(bobPage, 'Receive');
    await expect(bobPage.getByTestId('request-row').filter({ hasText: 'Bike repair' }).getByTestId('request-status')).toHaveText(/paid/i);
  });
});

test('Lightning: open a channel, pay a scanned invoice, pay back, close cooperatively', async ({ regtest, fulmen, browser }, testInfo) => {
  test.setTimeout(10 * 60_000);
  const alice = await fulmen('alice');
  const bob = await fulmen('bob');
  await regtest.sendToAddress(await alice.cli<string>('getunusedaddress'), '0.5');
  await regtest.mine(1);
  const alicePage = await openGui(browser, alice);
  const bobPage = await openGui(browser, bob);
  await expect(alicePage.getByTestId('balance-onchain')).toHaveText('0.5 BTC');

  let channelPoint = '';
  await test.step('Alice opens a channel to Bob from the Channels tab', async () => {
    await openTab(bobPage, 'Channels');
    const bobNode = (await bobPage.getByTestId('node-id').textContent())!;
    expect(bobNode).toMatch(/^0[23][0-9a-f]{64}@127\.0\.0\.1:\d+$/);
    await openTab(alicePage, 'Channels');
    await alicePage.getByRole('button', { name: 'Open channel' }).click();
    const dialog = alicePage.getByRole('dialog', { name: 'Open channel' });
    await dialog.getByLabel('Node').fill(bobNode);
    await dialog.getByLabel(/^Amount/).fill('0.02');
    // Bob does not trust Alice for zero-conf: his refusal is shown at once, and nothing is spent.
    await dialog.getByTestId('open-zeroconf').check();
    await dialog.getByRole('button', { name: 'Open channel' }).click();
    await expect(dialog.getByTestId('open-error')).toHaveText(/The peer refused the channel: .*option_zeroconf from a peer we do not trust/, { timeout: 15_000 });
    await expect(alicePage.getByTestId('balance-onchain')).toHaveText('0.5 BTC');
    await dialog.getByTestId('open-zeroconf').uncheck();
    await snap(alicePage, 'alice-open-channel');
    await dialog.getByRole('button', { name: 'Open channel' }).click();
    await expect(dialog.getByTestId('open-success')).toBeVisible({ timeout: 60_000 });
    await dialog.getByRole('button', { name: 'Done' }).click();
    await regtest.mine(6);
    const row = alicePage.getByTestId('channel-row');
    await expect(row.getByTestId('channel-state')).toHaveText('Open', { timeout: 60_000 });
    await expect(row.getByTestId('channel-scid')).toHaveText(/^\d+x\d+x\d+$/);
    channelPoint = (await row.getAttribute('data-channel-point'))!;
    await openTab(bobPage, 'Channels');
    await expect(bobPage.getByTestId('channel-row').getByTestId('channel-state')).toHaveText('Open', { timeout: 60_000 });
    await snap(alicePage, 'alice-channels-open');
  });

  let invoice = '';
  await test.step('Bob creates a request; its QR code decodes to the invoice text', async () => {
    const request = await createRequest(bobPage, '0.001', 'Coffee');
    expect(request.invoice).toMatch(/^lnbcrt1/);
    invoice = request.invoice!;
    expect(await decodeQrCanvas(bobPage, 'invoice-qr')).toBe(invoice);
    expect(request.uri).toContain(`lightning=${invoice}`);
    await snap(bobPage, 'bob-receive-invoice');
  });

  const camera = await launchWithCameraShowing(invoice, testInfo.outputPath('bob-invoice.y4m'));
  try {
    const scanPage = await test.step('Alice scans the invoice with the camera', () => scanAndReview(camera, alice, invoice));
    await test.step('Alice confirms and pays over Lightning', async () => {
      await scanPage.getByRole('button', { name: 'Review payment' }).click();
      await expect(scanPage.getByTestId('review-amount')).toHaveText('0.001 BTC');
      await expect(scanPage.getByTestId('send-summary')).toContainText('Coffee');
      await snap(scanPage, 'alice-lnpay-review');
      await scanPage.getByRole('button', { name: 'Pay', exact: true }).click();
      await expect(scanPage.getByTestId('send-success')).toBeVisible({ timeout: 120_000 });
      await snap(scanPage, 'alice-lnpay-done');
    });
  } finally {
    await camera.close();
  }

  await test.step('both History tabs show the Lightning payment', async () => {
    const aliceRows = await historyRows(alicePage);
    const aliceLn = aliceRows.and(alicePage.locator('[data-kind="lightning"]'));
    await expect(aliceLn.first()).toHaveAttribute('data-direction', 'sent');
    await expect(aliceLn.first().getByTestId('history-amount')).toHaveText(/^−0\.001\d* BTC$/);
    await expect(aliceLn.first().getByTestId('history-status')).toHaveText('Complete');
    const bobRows = await historyRows(bobPage);
    const bobLn = bobRows.and(bobPage.locator('[data-kind="lightning"]'));
    await expect(bobLn.first()).toHaveAttribute('data-direction', 'received');
    await expect(bobLn.first().getByTestId('history-amount')).toHaveText('+0.001 BTC');
    await snap(alicePage, 'alice-history-lightning');
    await snap(bobPage, 'bob-history-lightning');
    await openTab(bobPage, 'Receive');
    await expect(bobPage.getByTestId('request-row').filter({ hasText: 'Coffee' }).getByTestId('request-status')).toHaveText(/paid/i);
  });

  await test.step('Bob pays Alice back from Send (pasted invoice)', async () => {
    const back = await createRequest(alicePage, '0.0005', 'Change');
    await openTab(bobPage, 'Send');
    await bobPage.getByLabel('Pay to').fill(back.invoice!);
    await bobPage.getByRole('button', { name: 'Review payment' }).click();
    await expect(bobPage.getByTestId('review-amount')).toHaveText('0.0005 BTC');
    await bobPage.getByRole('button', { name: 'Pay', exact: true }).click();
    await expect(bobPage.getByTestId('send-success')).toBeVisible({ timeout: 120_000 });
    const aliceRows = await historyRows(alicePage);
    const received = aliceRows.and(alicePage.locator('[data-kind="lightning"][data-direction="received"]'));
    await expect(received.first().getByTestId('history-amount')).toHaveText('+0.0005 BTC');
  });

  await test.step('Alice closes the channel cooperatively; after a block the funds are on chain', async () => {
    const before = await balanceSat(alice);
    await openTab(alicePage, 'Channels');
    const row = alicePage.locator(`[data-channel-point="${channelPoint}"]`);
    await row.getByRole('button', { name: 'Close', exact: true }).click();
    const dialog = alicePage.getByRole('dialog', { name: 'Close channel' });
    await snap(alicePage, 'alice-close-confirm');
    await dialog.getByRole('button', { name: 'Close channel' }).click();
    await expect(dialog.getByTestId('close-success')).toBeVisible({ timeout: 60_000 });
    await expect(dialog.getByTestId('close-txid')).toHaveText(/^[0-9a-f]{64}$/);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await regtest.mine(1);
    await expect
      .poll(async () => (await balanceSat(alice)).confirmed, { timeout: 60_000, message: 'closing output confirmed in Alice\'s wallet' })
      .toBeGreaterThan(before.confirmed + 1_900_000); // 0.0195 BTC local balance minus the closing fee
    await expect(alicePage.getByTestId('balance-lightning')).toHaveText('0 BTC');
    await expect(row.getByTestId('channel-state')).toHaveText('Closed');
    await expect(row.getByTestId('channel-final')).toContainText('0.0195 BTC');
    await snap(alicePage, 'alice-channels-closed');
    await openTab(alicePage, 'History');
    await snap(alicePage, 'alice-history-final');
  });
});
