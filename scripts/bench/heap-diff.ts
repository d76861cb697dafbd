// Compares two V8 heap snapshots of one process: which kinds of object grew, and what keeps the new ones alive.
//
// Run (no npm script needed; the snapshots come from `BENCH_HEAP_SNAPSHOTS=1 ... rss-mixed.ts`):
//   node_modules/.bin/node --max-old-space-size=8192 --import tsx scripts/bench/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [groups=25] [paths=4]
// Prints the object groups (V8 node type + constructor or string name) whose total self size grew
// most, and for the top `paths` groups the shortest retainer path from a GC root of a few objects
// that exist only in the later snapshot (V8 keeps object ids stable within one process).
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly nodeFields: number;
  readonly edgeFields: number;
  readonly nodes: Uint32Array | number[];
  readonly edges: Uint32Array | number[];
  readonly strings: string[];
  readonly nodeTypes: string[];
  readonly edgeTypes: string[];
  /** Offsets of fields inside one node / edge record. */
  readonly f: {
    type: number;
    name: number;
    id: number;
    selfSize: number;
    edgeCount: number;
    eType: number;
    eName: number;
    eTo: number;
  };
}

function load(file: string): Snapshot {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: {
      meta: {
        node_fields: string[];
        edge_fields: string[];
        node_types: [string[]];
        edge_types: [string[]];
      };
    };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const meta = raw.snapshot.meta;
  const at = (fields: string[], name: string) => {
    const i = fields.indexOf(name);
    if (i < 0) throw new Error(`${file}: no ${name} field`);
    return i;
  };
  return {
    nodeFields: meta.node_fields.length,
    edgeFields: meta.edge_fields.length,
    nodes: raw.nodes,
    edges: raw.edges,
    strings: raw.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    f: {
      type: at(meta.node_fields, 'type'),
      name: at(meta.node_fields, 'name'),
      id: at(meta.node_fields, 'id'),
      selfSize: at(meta.node_fields, 'self_size'),
      edgeCount: at(meta.node_fields, 'edge_count'),
      eType: at(meta.edge_fields, 'type'),
      eName: at(meta.edge_fields, 'name_or_index'),
      eTo: at(meta.edge_fields, 'to_node'),
    },
  };
}

/** `type:name`, with long string contents cut so that strings group by their start. */
function groupOf(s: Snapshot, node: number): string {
  const type = s.nodeTypes[s.nodes[node + s.f.type] as number] ?? '?';
  let name = s.strings[s.nodes[node + s.f.name] as number] ?? '';
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string')
    name = `${name.slice(0, 40).replace(/\s+/g, ' ')}…`;
  return `${type}:${name}`;
}

interface Group {
  count: number;
  size: number;
}

function summarize(s: Snapshot): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (let n = 0; n < s.nodes.length; n += s.nodeFields) {
    const key = groupOf(s, n);
    const g = groups.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += s.nodes[n + s.f.selfSize] as number;
    groups.set(key, g);
  }
  return groups;
}

/** Shortest paths from the synthetic root (node 0), ignoring weak edges: parent node and edge of every node. */
function retainerTree(s: Snapshot): { parent: Int32Array; parentEdge: Int32Array } {
  const count = s.nodes.length / s.nodeFields;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += (s.nodes[i * s.nodeFields + s.f.edgeCount] as number) * s.edgeFields;
    firstEdge[i + 1] = e;
  }
  const parent = new Int32Array(count).fill(-1);
  const parentEdge = new Int32Array(count).fill(-1);
  const weak = s.edgeTypes.indexOf('weak');
  const queue = new Int32Array(count);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  parent[0] = 0;
  while (head < tail) {
    const i = queue[head++] as number;
    for (let e = firstEdge[i] as number; e < (firstEdge[i + 1] as number); e += s.edgeFields) {
      if (s.edges[e + s.f.eType] === weak) continue;
      const to = (s.edges[e + s.f.eTo] as number) / s.nodeFields;
      if (parent[to] !== -1) continue;
      parent[to] = i;
      parentEdge[to] = e;
      queue[tail++] = to;
    }
  }
  return { parent, parentEdge };
}

function edgeLabel(s: Snapshot, e: number): string {
  const type = s.edgeTypes[s.edges[e + s.f.eType] as number];
  const nameOrIndex = s.edges[e + s.f.eName] as number;
  return type === 'element' || type === 'hidden'
    ? `[${nameOrIndex}]`
    : `.${s.strings[nameOrIndex]}`;
}

function pathOf(s: Snapshot, tree: ReturnType<typeof retainerTree>, index: number): string {
  const steps: string[] = [];
  for (let i = index, guard = 0; i !== 0 && guard < 40; guard++) {
    const p = tree.parent[i] as number;
    if (p < 0) return '(unreachable from the roots: garbage not yet collected)';
    steps.push(`${edgeLabel(s, tree.parentEdge[i] as number)} -> ${groupOf(s, i * s.nodeFields)}`);
    i = p;
  }
  return steps.reverse().join('\n      ');
}

const [beforeFile, afterFile, groupsArg, pathsArg] = process.argv.slice(2);
if (!beforeFile || !afterFile) {
  console.error(
    'usage: heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [groups=25] [paths=4]',
  );
  process.exit(2);
}
const topGroups = Number(groupsArg ?? 25);
const topPaths = Number(pathsArg ?? 4);

const before = load(beforeFile);
const beforeGroups = summarize(before);
const beforeIds = new Set<number>();
for (let n = 0; n < before.nodes.length; n += before.nodeFields)
  beforeIds.add(before.nodes[n + before.f.id] as number);
const beforeTotal = [...beforeGroups.values()].reduce((t, g) => t + g.size, 0);
// Free the first snapshot before reading the second.
(before as { nodes: unknown }).nodes = [];
const after = load(afterFile);
const afterGroups = summarize(after);
const afterTotal = [...afterGroups.values()].reduce((t, g) => t + g.size, 0);

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);
console.log(
  `heap (live objects after the snapshot's GC): ${mb(beforeTotal)} MB -> ${mb(afterTotal)} MB`,
);
const growth = [...afterGroups]
  .map(([key, g]) => {
    const b = beforeGroups.get(key) ?? { count: 0, size: 0 };
    return {
      key,
      countBefore: b.count,
      countAfter: g.count,
      sizeBefore: b.size,
      sizeAfter: g.size,
    };
  })
  .sort((x, y) => y.sizeAfter - y.sizeBefore - (x.sizeAfter - x.sizeBefore))
  .slice(0, topGroups);
console.log('\ngrowth by group (self sizes):');
console.log('   +MB      count before -> after   group');
for (const g of growth) {
  console.log(
    `${mb(g.sizeAfter - g.sizeBefore).padStart(7)}  ${String(g.countBefore).padStart(12)} -> ${String(g.countAfter).padEnd(10)} ${g.key.slice(0, 100)}`,
  );
}

const tree = retainerTree(after);
console.log(
  '\nretainer paths (from the GC roots) of objects that exist only in the later snapshot:',
);
for (const g of growth.slice(0, topPaths)) {
  console.log(`\n  ${g.key.slice(0, 100)}`);
  let shown = 0;
  for (let n = 0; n < after.nodes.length && shown < 2; n += after.nodeFields) {
    if (groupOf(after, n) !== g.key || beforeIds.has(after.nodes[n + after.f.id] as number))
      continue;
    shown++;
    console.log(`    #${shown}:\n      ${pathOf(after, tree, n / after.nodeFields)}`);
  }
  if (shown === 0) console.log('    (every object of this group existed before)');
}
