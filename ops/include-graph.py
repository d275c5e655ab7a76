#!/usr/bin/env python3
"""include-graph.py -- the include graph among the project's modules (a
module is a .c/.h pair; a name_int.h header, the private half of module
name, belongs to it), one line per module with what it includes, and any
cycle. Exit status 1 on a cycle.
Usage: ops/include-graph.py [folder ...]   (default: lib gateway worker ctl client)"""
import os
import re
import sys

folders = sys.argv[1:] or ["lib", "gateway", "worker", "ctl", "client"]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
files = {}
for top in folders:
    for d, _, names in os.walk(os.path.join(root, top)):
        for n in names:
            if n.endswith((".c", ".h")):
                files[os.path.relpath(os.path.join(d, n), root)] = None
mod_of_header = {}


def module(path):
    name = os.path.splitext(os.path.basename(path))[0]
    return name[:-4] if name.endswith("_int") else name


for f in files:
    if f.endswith(".h"):
        mod_of_header[os.path.basename(f)] = module(f)


edges = {}
for f in sorted(files):
    m = module(f)
    edges.setdefault(m, set())
    for line in open(os.path.join(root, f), encoding="utf-8", errors="replace"):
        inc = re.match(r'\s*#include "([^"]+)"', line)
        if inc and inc.group(1) in mod_of_header:
            dep = mod_of_header[inc.group(1)]
            if dep != m:
                edges[m].add(dep)

state, stack, cycles = {}, [], []


def visit(m):
    state[m] = 1
    stack.append(m)
    for d in sorted(edges.get(m, ())):
        if state.get(d) == 1:
            cycles.append(stack[stack.index(d):] + [d])
        elif not state.get(d):
            visit(d)
    stack.pop()
    state[m] = 2


for m in sorted(edges):
    if not state.get(m):
        visit(m)
for m in sorted(edges):
    print(f"{m:14} -> {' '.join(sorted(edges[m])) or '-'}")
for c in cycles:
    print("cycle: " + " -> ".join(c))
print(f"{len(edges)} modules, {sum(len(v) for v in edges.values())} edges, {len(cycles)} cycles")
sys.exit(1 if cycles else 0)
