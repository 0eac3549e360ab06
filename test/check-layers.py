#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-layers.py NAME OBJECT-OR-DIR...
#
# No file-level cycles: reads the symbols each object file of a target
# defines and needs (nm), draws an edge from a file to every other file of
# the same target whose symbol it uses, and fails naming each cycle found.
# A file that calls back into its caller (or into whoever calls that) is a
# cycle; report an event to the caller instead.  Run by meson test (suite
# docs) over lib/ and supervisor/.
import glob
import os
import subprocess
import sys


def symbols(obj):
    out = subprocess.run(['nm', obj], capture_output=True, text=True,
                         check=True).stdout
    defined, needed = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in 'TDBRVWCG':
            defined.add(f[2])
        elif len(f) == 2 and f[0] == 'U':
            needed.add(f[1])
    return defined, needed


def main():
    name, objs = sys.argv[1], []
    for a in sys.argv[2:]:
        # A target's private directory (meson's OUTPUT.p): its objects.
        objs += sorted(glob.glob(os.path.join(a, '*.o'))) \
            if os.path.isdir(a) else [a]
    if not objs:
        print('%s: no object files given' % name)
        return 2
    owner, needs = {}, {}
    for o in objs:
        f = os.path.basename(o)
        if f.endswith('.o'):
            f = f[:-2]
        d, n = symbols(o)
        for sym in d:
            owner[sym] = f
        needs[f] = n
    graph = {f: sorted({owner[s] for s in n if s in owner} - {f})
             for f, n in needs.items()}
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    for comp in sccs:
        print('%s: files that call each other: %s' % (name, ' '.join(comp)))
        for v in comp:
            print('  %s -> %s' % (v, ' '.join(w for w in graph[v]
                                              if w in comp)))
    if not sccs:
        print('%s: %d files, no cycles' % (name, len(graph)))
    return 1 if sccs else 0


sys.exit(main())
