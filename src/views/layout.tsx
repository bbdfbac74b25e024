import type { Child } from "hono/jsx";

const styles = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330}
main{max-width:26rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 1rem}
p{margin:.5rem 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;padding:.6rem .7rem;border:1px solid #b8bfcc;border-radius:8px;font:inherit}
input:focus,button:focus{outline:3px solid #8ab4f8;outline-offset:1px}
.actions{display:flex;gap:.75rem;margin-top:1.5rem}
button{flex:1;padding:.65rem 1rem;border-radius:8px;border:1px solid #1a56db;background:#1a56db;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button.secondary{background:#fff;color:#1a56db}
.error{background:#fdecec;border:1px solid #f5b5b5;color:#8a1c1c;padding:.6rem .8rem;border-radius:8px}
ul.scopes{padding-left:1.2rem}
ul.scopes li{margin:.3rem 0}
code{font-size:.9em;background:#eef0f4;padding:.1rem .3rem;border-radius:4px}
.muted{color:#5b6473;font-size:.9rem}
`;

/** The page frame; `styles` and `mainClass` let a page (the API reference) add to the shared look. */
export function Layout(props: { title: string; styles?: string; mainClass?: string; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{props.title}</title>
        <style dangerouslySetInnerHTML={{ __html: styles + (props.styles ?? "") }} />
      </head>
      <body>
        <main class={props.mainClass}>{props.children}</main>
      </body>
    </html>
  );
}

/** Hidden inputs that carry the request's parameters through a form. */
export function HiddenFields(props: { fields: Record<string, string> }) {
  return (
    <>
      {Object.entries(props.fields).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
    </>
  );
}
