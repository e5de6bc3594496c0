// A strict well-formedness check for the harness's SVG output (no XML parser is installed): one root element,
// balanced tags, quoted attributes, no stray '<', and only the five predefined entities or character refs.
const TOKEN = /<\?[^?]*\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*(\/?)>/g;
const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

export function assertWellFormedXml(text: string): { root: string; elements: number } {
  const stack: string[] = [];
  let root: string | undefined;
  let elements = 0;
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    const between = text.slice(last, match.index);
    if (between.includes('<') || between.includes('>') || ENTITY.test(between)) throw new Error(`bad character data near offset ${last}: ${between.slice(0, 40)}`);
    if (ENTITY.test(match[3] ?? '')) throw new Error(`bad entity in attributes of <${match[2]}>`);
    last = match.index + match[0].length;
    const [, closing, name, , selfClosing] = match;
    if (!name) continue; // declaration or comment
    if (closing) {
      if (stack.pop() !== name) throw new Error(`</${name}> does not close the open element`);
      continue;
    }
    elements++;
    if (stack.length === 0) {
      if (root !== undefined) throw new Error(`second root element <${name}>`);
      root = name;
    }
    if (!selfClosing) stack.push(name);
  }
  const tail = text.slice(last);
  if (tail.trim() !== '') throw new Error(`trailing content: ${tail.slice(0, 40)}`);
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (root === undefined) throw new Error('no root element');
  return { root, elements };
}
