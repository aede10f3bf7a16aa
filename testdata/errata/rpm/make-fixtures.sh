#!/bin/sh
# Builds the errata rpm fixtures under testdata/errata/rpm/ from the
# packages of testdata/rpm/repo (not rebuilt; copied):
#   repo-old/   hello-1.0, libgreet-2.0, greet-data-0.5 and an updateinfo
#               with one enhancement advisory (FIX-2025:0100)
#   repo/       the same plus hello-1.1, and updateinfo-new.xml: security
#               advisories of several severities and dates, a bug fix
# Needs the Debian package createrepo-c. Idempotent; the output is stable
# (times pinned to SOURCE_DATE_EPOCH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pkgs="$here/../../rpm/repo/Packages"
export SOURCE_DATE_EPOCH=1767225600   # 2026-01-01T00:00:00Z
export TZ=UTC LC_ALL=C

build() {
	dir=$1 ui=$2
	shift 2
	rm -rf "$dir"
	mkdir -p "$dir/Packages"
	for p in "$@"; do
		cp "$pkgs/$p" "$dir/Packages/"
	done
	touch -d "@$SOURCE_DATE_EPOCH" "$dir"/Packages/*.rpm
	createrepo_c --quiet --no-database --checksum sha256 --revision "$SOURCE_DATE_EPOCH" \
		--set-timestamp-to-revision --general-compress-type gz "$dir"
	modifyrepo_c --mdtype updateinfo --compress-type gz --checksum sha256 "$here/$ui" "$dir/repodata" >/dev/null
	sed -i "s|<timestamp>[0-9]*</timestamp>|<timestamp>$SOURCE_DATE_EPOCH</timestamp>|" "$dir/repodata/repomd.xml"
	# modifyrepo_c keeps the input's base name: updateinfo.xml for both repos.
}

cp "$here/updateinfo-old.xml" "$here/updateinfo.xml"
build "$here/repo-old" updateinfo.xml hello-1.0-1.x86_64.rpm libgreet-2.0-1.x86_64.rpm greet-data-0.5-3.noarch.rpm
cp "$here/updateinfo-new.xml" "$here/updateinfo.xml"
build "$here/repo" updateinfo.xml hello-1.0-1.x86_64.rpm hello-1.1-1.x86_64.rpm libgreet-2.0-1.x86_64.rpm greet-data-0.5-3.noarch.rpm
rm -f "$here/updateinfo.xml"
