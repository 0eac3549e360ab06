#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-man.sh SRCDIR BUILDDIR
#
# Every public call and every installed program has a man page, and the
# pages are installed and render.  Run by meson test (suite docs); a call
# added on any branch without a page fails here, naming what is missing:
#
#  - every function declared in include/fuse_recover.h is exported by a
#    global section of lib/fuse_recover.map (a declared call that does not
#    link is as broken as an undocumented one);
#  - every symbol of those global sections, and every static inline call
#    of the header, has man/SYMBOL.3: the page itself or a
#    ".so man3/PAGE.3" link to a page whose NAME and SYNOPSIS carry it;
#  - every program meson installs into a bin or sbin directory has
#    man/PROGRAM.1 or man/PROGRAM.8;
#  - every page in man/ is installed, renders without groff warnings, and
#    every reference to a page of ours names one that exists.
#
# The declarations are read by the compiler itself (gcc -aux-info), not by
# a pattern match on C text, so line breaks, comments and function-pointer
# parameters cannot hide one.
set -uo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 SRCDIR BUILDDIR" >&2
	exit 2
fi
src=$1
build=$2
man=$src/man
header=$src/include/fuse_recover.h
map=$src/lib/fuse_recover.map
installed=$build/meson-info/intro-installed.json
work=$build/man
errors=0

fail() {
	echo "check-man: $*"
	errors=$((errors + 1))
}

for f in "$header" "$map" "$installed"; do
	if [ ! -r "$f" ]; then
		echo "check-man: cannot read $f" >&2
		exit 2
	fi
done
mkdir -p "$work" || exit 2

# --- the symbol map: names in global sections, all version nodes ---
map_syms=$(sed -e 's:/\*.*\*/::g' -e 's:#.*::' "$map" | awk '
	/global:/ { g = 1; sub(/.*global:/, "") }
	/local:/ { g = 0 }
	/}/ { g = 0 }
	g {
		n = split($0, t, /[ \t;]+/)
		for (i = 1; i <= n; i++)
			if (t[i] != "")
				print t[i]
	}' | sort -u)
if [ -z "$map_syms" ]; then
	echo "check-man: no global symbols found in $map" >&2
	exit 2
fi
for s in $map_syms; do
	case $s in
	*[!A-Za-z0-9_]*) fail "$map: cannot check the pattern '$s': list symbols one by one" ;;
	esac
done

# --- the header: what the compiler sees declared in it ---
cc=${CC:-cc}
fuse_cflags=${FUSE_CFLAGS-$(pkg-config --cflags fuse3 2>/dev/null)}
aux=$work/check-man.aux
rm -f "$aux"
# shellcheck disable=SC2086 # FUSE_CFLAGS is a list of words
if ! printf '#include "fuse_recover.h"\n' |
     $cc -x c - -fsyntax-only -D_GNU_SOURCE -aux-info "$aux" \
	-I"$src/include" $fuse_cflags 2>"$work/check-man.cc.log" ||
   [ ! -s "$aux" ]; then
	cat "$work/check-man.cc.log" >&2
	echo "check-man: $cc cannot list the declarations of $header (needs gcc's -aux-info)" >&2
	exit 77
fi
# "/* FILE:LINE:NC */": C for a declaration, F for a definition (a
# static inline call in the header needs a page, but no map entry).
hdr_list() {
	grep -F "$header:" "$aux" | grep -E ":[NO]$1 \*/" |
		sed -E 's:^/\*[^*]*\*/ *::; s/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*) \(.*/\2/' |
		sort -u
}
hdr_funcs=$(hdr_list C)
hdr_inline=$(hdr_list F)
if [ -z "$hdr_funcs" ]; then
	echo "check-man: no functions found declared in $header" >&2
	exit 2
fi
for f in $hdr_funcs; do
	grep -qxF "$f" <<<"$map_syms" ||
		fail "$f is declared in include/fuse_recover.h but not exported in lib/fuse_recover.map"
done

# --- a page for every symbol ---
# Prints the page a man/ file resolves to (itself unless it is a .so link).
resolve() {
	local first
	first=$(sed -n '1{/^\.so /p}' "$man/$1")
	if [ -z "$first" ]; then
		echo "$1"
	else
		basename "${first#.so }"
	fi
}

# The NAME section of a page, joined into one line.
name_line() {
	awk '/^\.SH/ { n = ($2 == "NAME") ; next } n' "$man/$1" | tr '\n' ' '
}

all_syms=$(printf '%s\n' "$map_syms" "$hdr_inline" | grep . | sort -u)
for s in $all_syms; do
	page=$s.3
	if [ ! -f "$man/$page" ]; then
		fail "no man page for $s: write man/$page (or a '.so man3/PAGE.3' link to the page that documents it)"
		continue
	fi
	target=$(resolve "$page")
	if [ ! -f "$man/$target" ]; then
		fail "man/$page links to man/$target, which does not exist"
		continue
	fi
	if [ "$(resolve "$target")" != "$target" ]; then
		fail "man/$page links to man/$target, which is itself a link"
		continue
	fi
	name_line "$target" | grep -qw -- "$s" ||
		fail "man/$target does not name $s in its NAME section"
	grep -qE "\"[^\"]*[ *]$s\(" "$man/$target" ||
		fail "man/$target has no SYNOPSIS line for $s()"
done

# --- a page for every installed program ---
# intro-installed.json maps each built file to its destination, e.g.
# "/b/supervisor/fuse-recoverd": "/usr/local/bin/fuse-recoverd".
dests=$(grep -oE '"[^"]*": "[^"]*"' "$installed" | sed -E 's/^"[^"]*": "([^"]*)"$/\1/')
progs=$(grep -E '/s?bin/[^/]+$' <<<"$dests" | sed 's:.*/::' | sort -u)
if [ -z "$progs" ]; then
	echo "check-man: no installed programs found in $installed" >&2
	exit 2
fi
for p in $progs; do
	[ -f "$man/$p.1" ] || [ -f "$man/$p.8" ] ||
		fail "no man page for the installed program $p: write man/$p.1 (or .8 for a daemon)"
done

# --- every page installed, and rendering cleanly ---
for f in "$man"/*.[1-8]; do
	page=${f##*/}
	sect=${page##*.}
	grep -qE "/man$sect/$page\$" <<<"$dests" ||
		fail "man/$page is not installed: add it to man/meson.build"
done
# References to the project's own pages (.BR name (N)) must resolve.
for f in "$man"/*.[1-8]; do
	sed -nE 's/^\.[BI]R +([A-Za-z0-9_\\-]+) +\(([1-8])\).*/\1.\2/p' "$f" |
		sed 's/\\-/-/g' | grep -E '^(fuse_recover|fuse-recover|fuse_session_attach)' |
		sort -u | while read -r ref; do
			[ -f "$man/$ref" ] ||
				echo "check-man: man/${f##*/} refers to ${ref%.*}(${ref##*.}), which has no page"
		done
done >"$work/check-man.refs"
while read -r line; do
	fail "${line#check-man: }"
done <"$work/check-man.refs"

if command -v groff >/dev/null; then
	for f in "$man"/*.[1-8]; do
		page=${f##*/}
		[ "$(resolve "$page")" = "$page" ] || continue
		warn=$(groff -man -ww -z "$f" 2>&1)
		[ -z "$warn" ] || fail "man/$page does not render cleanly: $warn"
	done
else
	echo "check-man: groff not found, pages not rendered"
fi

nsyms=$(wc -w <<<"$map_syms")
nprogs=$(wc -w <<<"$progs")
if [ $errors -ne 0 ]; then
	echo "check-man: $errors problem(s)"
	exit 1
fi
echo "check-man: $nsyms calls and $nprogs programs have pages"
exit 0
