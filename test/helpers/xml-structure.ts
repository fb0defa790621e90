/**
 * A small, strict XML reader for checking what we write (JUnit reports):
 * no XML parser is among the dependencies. It accepts the subset a JUnit
 * file uses — a declaration, elements, attributes in double or single
 * quotes, text, the five predefined entities and numeric character
 * references — and throws on anything not well-formed (unbalanced tags, a
 * raw `<` or `&`, a duplicate attribute, text outside the root).
 */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const NAME = /^[A-Za-z_][\w.-]*/;

function decode(raw: string, where: string): string {
  if (raw.includes('<')) throw new Error(`raw '<' in ${where}`);
  return raw.replace(/&([^;]*);|&/g, (whole, entity: string | undefined) => {
    if (entity === undefined) throw new Error(`raw '&' in ${where}`);
    if (Object.hasOwn(ENTITIES, entity)) return ENTITIES[entity]!;
    const numeric = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(entity);
    if (!numeric) throw new Error(`unknown entity &${entity}; in ${where}`);
    const code = numeric[1]!.startsWith('x') ? parseInt(numeric[1]!.slice(1), 16) : parseInt(numeric[1]!, 10);
    return String.fromCodePoint(code);
  });
}

export function parseXml(xml: string): XmlElement {
  let at = 0;
  const rest = (): string => xml.slice(at);
  const decl = /^<\?xml[^?]*\?>\s*/.exec(xml);
  if (decl) at = decl[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    const text = xml.slice(at, lt === -1 ? xml.length : lt);
    if (stack.length === 0) {
      if (text.trim() !== '') throw new Error('text outside the root element');
    } else {
      stack[stack.length - 1]!.text += decode(text, `<${stack[stack.length - 1]!.name}>`);
    }
    if (lt === -1) break;
    at = lt;
    if (rest().startsWith('</')) {
      const close = /^<\/([A-Za-z_][\w.-]*)\s*>/.exec(rest());
      const open = stack.pop();
      if (!close || !open || close[1] !== open.name) throw new Error(`unbalanced closing tag at ${at}`);
      at += close[0].length;
      continue;
    }
    at += 1;
    const name = NAME.exec(rest());
    if (!name) throw new Error(`bad element name at ${at}`);
    at += name[0].length;
    const attributes: Record<string, string> = {};
    for (;;) {
      const attr = /^\s+([A-Za-z_][\w.-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(rest());
      if (!attr) break;
      if (Object.hasOwn(attributes, attr[1]!)) throw new Error(`duplicate attribute ${attr[1]}`);
      attributes[attr[1]!] = decode(attr[3] ?? attr[4] ?? '', `attribute ${attr[1]}`);
      at += attr[0].length;
    }
    const end = /^\s*(\/?)>/.exec(rest());
    if (!end) throw new Error(`bad tag <${name[0]}> at ${at}`);
    at += end[0].length;
    const element: XmlElement = { name: name[0], attributes, children: [], text: '' };
    if (stack.length) stack[stack.length - 1]!.children.push(element);
    else if (root) throw new Error('a second root element');
    else root = element;
    if (end[1] !== '/') stack.push(element);
  }
  if (stack.length || !root) throw new Error('unclosed elements or no root');
  return root;
}

/** Every element named `name` below `from`, depth first. */
export function elements(from: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    for (const child of e.children) {
      if (child.name === name) found.push(child);
      walk(child);
    }
  };
  walk(from);
  return found;
}
