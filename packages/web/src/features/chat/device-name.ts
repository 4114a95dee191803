/** "Chromium on Linux": how this browser is listed among the person's devices. */
export function browserDeviceName(nav: Navigator = navigator): string {
  const data = (
    nav as Navigator & {
      userAgentData?: { brands?: { brand: string }[]; platform?: string };
    }
  ).userAgentData;
  const ua = nav.userAgent;
  const brand =
    data?.brands
      ?.map((b) => b.brand)
      .find((b) => !/not.?a.?brand/i.test(b) && b !== 'Chromium' && b.trim() !== '') ??
    (data?.brands?.some((b) => b.brand === 'Chromium')
      ? 'Chromium'
      : /Firefox\//.test(ua)
        ? 'Firefox'
        : /Edg\//.test(ua)
          ? 'Edge'
          : /Chrome\//.test(ua)
            ? 'Chrome'
            : /Safari\//.test(ua)
              ? 'Safari'
              : 'Browser');
  const platform =
    data?.platform ||
    (/Android/.test(ua)
      ? 'Android'
      : /iPhone|iPad/.test(ua)
        ? 'iOS'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Windows/.test(ua)
            ? 'Windows'
            : /Linux/.test(ua)
              ? 'Linux'
              : 'an unknown system');
  return `${brand} on ${platform}`.slice(0, 80);
}
