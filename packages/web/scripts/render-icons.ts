/**
 * Renders the PNG icons the manifest lists from public/icons/icon.svg with
 * Debian's Chromium (run by hand after changing the SVG; the PNGs are
 * committed): `node packages/web/scripts/render-icons.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const dir = new URL('../public/icons/', import.meta.url);
const svg = readFileSync(new URL('icon.svg', dir), 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.TEST_CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const page = await browser.newPage();
const render = async (size: number, file: string, maskable: boolean) => {
  await page.setViewportSize({ width: size, height: size });
  // Maskable: full-bleed background, the shield inside the 80 % safe zone.
  const inner = maskable ? Math.round(size * 0.72) : size;
  const body = maskable
    ? `<div style="width:${size}px;height:${size}px;background:#16233f;display:grid;place-items:center">${svg.replace('<svg ', `<svg width="${inner}" height="${inner}" `)}</div>`
    : svg.replace('<svg ', `<svg width="${size}" height="${size}" `);
  await page.setContent(
    `<html><body style="margin:0;background:transparent">${body}</body></html>`,
  );
  writeFileSync(
    new URL(file, dir),
    await page.screenshot({
      omitBackground: true,
      clip: { x: 0, y: 0, width: size, height: size },
    }),
  );
};
await render(192, 'icon-192.png', false);
await render(512, 'icon-512.png', false);
await render(512, 'icon-maskable-512.png', true);
await browser.close();
