/** Text → HTML text or attribute value (the demo pages show user-controlled strings). */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A small, self-contained page (no scripts, no external assets). */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
code, pre { background: #f3f3f3; padding: 0 .25rem; border-radius: 3px; }
pre { padding: .5rem; overflow-x: auto; }
label { display: block; margin: .5rem 0; }
input { font-size: 1rem; padding: .25rem; }
button { font-size: 1rem; padding: .3rem .8rem; margin: .2rem 0; }
.error { color: #a00; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; }
</style></head>
<body>
${body}
</body></html>
`;
}
