"""Pick a corpus of at most BUDGET files from libFuzzer merge control files (see fuzz/README.md).

usage: select_corpus.py CTL_EDGES CTL_FEATURES BUDGET KEEP_REGEX > chosen-paths

CTL_EDGES / CTL_FEATURES come from `-set_cover_merge=1 -merge_control_file=F` runs with
`-use_counters=0` (one feature per edge) and the default `-use_counters=1`; with
set_cover_merge, libFuzzer writes every feature of every file, not only the new ones.
Always keeps files whose basename matches KEEP_REGEX (the hand-written seeds), then greedily
adds the file covering the most uncovered edges (smaller first on ties), then the most
uncovered features, until BUDGET files. Stats go to stderr, chosen paths to stdout.
Files libFuzzer skipped (empty ones) are not listed: copy them back yourself."""
import sys, re, os
def load(ctl):
    lines = open(ctl).read().split('\n'); n = int(lines[0]); paths = lines[2:2+n]; ft = {}
    for l in lines[2+n:]:
        p = l.split()
        if p and p[0] == 'FT': ft[paths[int(p[1])]] = set(map(int, p[2:]))
    return paths, ft
paths, edges = load(sys.argv[1]); _, feats = load(sys.argv[2])
budget, keep = int(sys.argv[3]), re.compile(sys.argv[4])
size = {p: os.path.getsize(p) for p in paths}
U = lambda d, ps: set().union(set(), *(d.get(p, set()) for p in ps))
alle, allf = U(edges, paths), U(feats, paths)
chosen = [p for p in paths if keep.search(os.path.basename(p))]
ce, cf = U(edges, chosen), U(feats, chosen); base = (len(ce), len(cf))
rest = set(paths) - set(chosen)
for src, covered in ((edges, ce), (feats, cf)):
    while len(chosen) < budget:
        best = max(sorted(rest), key=lambda p: (len(src.get(p, set()) - covered), -size[p]), default=None)
        if best is None or not (src.get(best, set()) - covered): break
        chosen.append(best); rest.discard(best); ce |= edges.get(best, set()); cf |= feats.get(best, set())
print(f"files {len(chosen)} bytes {sum(size[p] for p in chosen)}; edges {len(ce)}/{len(alle)} features {len(cf)}/{len(allf)}; kept-by-name alone: {sum(1 for p in paths if keep.search(os.path.basename(p)))} files, edges {base[0]} features {base[1]}", file=sys.stderr)
for p in chosen: print(p)
