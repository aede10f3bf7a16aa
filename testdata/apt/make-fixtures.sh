#!/bin/sh
# Builds the APT fixtures under testdata/apt/ from the control files in src/:
#   debs/                 the .debs (dpkg-deb): libgreet1, greet 1.0-1 and 1.1-1
#                         (Depends on libgreet1 and greet-data), greet-data (arch all),
#                         postgreet (Provides: greet-mta), greet-notify (all, Depends on greet-mta)
#   repo/                 signed (InRelease, Release, Release.gpg), Suite stable ≠ Codename
#                         chantal-fixture, main + contrib, amd64 + arm64, Packages/.gz/.xz,
#                         Translation-en, Valid-Until far ahead
#   repo-xz/              InRelease only, Packages.xz only
#   repo-byhash/          Acquire-By-Hash: yes; indexes exist only under by-hash/SHA256/
#   repo-flat/            flat ("deb URL ./"): Packages.gz, Release + Release.gpg, no InRelease
#   repo-expired/         signed InRelease whose Valid-Until has passed
#   repo-src/             signed (InRelease, Release, Release.gpg), main amd64 Packages.gz with
#                         the fixture .debs and two real Debian .debs, plus source/Sources.gz
#                         and .xz (plain Packages and Sources are listed in the Release but
#                         absent, as in Debian's archive) for greet 1.1-1 and 1.1-2, built with
#                         dpkg-source and sharing one orig tarball
#   real-debs/            node-once 1.4.0-7 (Depends: node-wrappy) and node-wrappy 1.0.2-3,
#                         tiny arch:all packages fetched from Debian with apt-get download
#                         (verified by apt against its signed lists; needs a prior apt-get update
#                         with Debian bookworm in the sources)
#   src-pool/             the source package's files (.dsc, orig and debian tarballs)
#   fixtures-key.asc      public half of the throwaway signing key
# Every repo links pool/ to ../debs-pool (one copy of the .debs). Needs the Debian
# packages dpkg, dpkg-dev, gnupg, xz-utils, coreutils, apt. Idempotent; the key and signatures change
# on every run, tests use the committed outputs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
export SOURCE_DATE_EPOCH=1767225600   # 2026-01-01T00:00:00Z
export TZ=UTC LC_ALL=C
cd "$here"
rm -rf debs-pool repo repo-xz repo-byhash repo-flat repo-expired repo-src src-pool

# --- the .debs --------------------------------------------------------------
build() { # name version component
	d="$work/build/$1_$2"
	mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$1"
	sed "s/@VERSION@/$2/" "src/$1/control" > "$d/DEBIAN/control"
	printf '%s %s (chantal-lite fixture)\n' "$1" "$2" > "$d/usr/share/doc/$1/README"
	src=$(sed -n 's/^Source: *//p' "$d/DEBIAN/control"); src=${src:-$1}
	case $src in lib?*) pre=$(printf %s "$src" | cut -c1-4) ;; *) pre=$(printf %s "$src" | cut -c1) ;; esac
	arch=$(sed -n 's/^Architecture: *//p' "$d/DEBIAN/control")
	mkdir -p "debs-pool/$3/$pre/$src"
	dpkg-deb --root-owner-group -Zxz --build "$d" "debs-pool/$3/$pre/$src/$1_${2#*:}_$arch.deb" >/dev/null
}
build libgreet1 1.0-1 main
build greet 1.0-1 main
build greet 1.1-1 main
build greet-data 1.0-1 main
build postgreet 2:0.9~rc1-1 contrib
build greet-notify 1.0-1 contrib

# --- signing key ------------------------------------------------------------
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
uid='chantal-lite apt fixtures <fixtures@example.invalid>'
gpg --batch --quiet --passphrase '' --quick-gen-key "$uid" rsa3072 sign never
gpg --batch --armor --export "$uid" > fixtures-key.asc

# --- indexes ----------------------------------------------------------------
# packages ROOT COMPONENT ARCH > Packages: stanzas of ROOT/pool/COMPONENT for ARCH (+all)
packages() {
	(cd "$1" && dpkg-scanpackages -m -a "$3" "pool/$2" /dev/null 2>/dev/null)
}
sums() { # DIR: MD5Sum/SHA1/SHA256/SHA512 blocks of every file below DIR except Release*
	for h in MD5Sum:md5sum SHA1:sha1sum SHA256:sha256sum SHA512:sha512sum; do
		echo "${h%%:*}:"
		(cd "$1" && find . -type f ! -name 'Release*' ! -name InRelease ! -path '*/by-hash/*' | sed 's|^\./||' | sort |
			while read -r f; do printf ' %s %8d %s\n' "$(${h#*:} "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"; done)
	done
}
release() { # DIR SUITE CODENAME VALID-UNTIL EXTRA... > DIR/Release
	dir=$1 suite=$2 code=$3 until=$4; shift 4
	{
		echo "Origin: chantal-fixtures"
		echo "Label: chantal-fixtures"
		[ -n "$suite" ] && echo "Suite: $suite"
		[ -n "$code" ] && echo "Codename: $code"
		echo "Date: $(date -u -d @$SOURCE_DATE_EPOCH '+%a, %d %b %Y %H:%M:%S UTC')"
		[ -n "$until" ] && echo "Valid-Until: $(date -u -d "$until" '+%a, %d %b %Y %H:%M:%S UTC')"
		for l in "$@"; do echo "$l"; done
		sums "$dir"
	} > "$dir/Release.tmp"
	mv "$dir/Release.tmp" "$dir/Release"
}
sign() { # DIR [inrelease] [detached]
	for w in "$@"; do case $w in
		inrelease) gpg --batch --yes --quiet --digest-algo SHA256 --clearsign -o "$1/InRelease" "$1/Release" ;;
		detached) gpg --batch --yes --quiet --digest-algo SHA256 -abs -o "$1/Release.gpg" "$1/Release" ;;
	esac; done
}
std_tree() { # REPO VARIANTS: dists/stable with main+contrib × amd64+arm64
	r=$1 v=$2
	mkdir -p "$r"
	ln -s ../debs-pool "$r/pool"
	for c in main contrib; do
		for a in amd64 arm64; do
			d="$r/dists/stable/$c/binary-$a"
			mkdir -p "$d"
			packages "$r" "$c" "$a" > "$d/Packages"
			case $v in *gz*) gzip -9nk "$d/Packages" ;; esac
			case $v in *xz*) xz -k "$d/Packages" ;; esac
			case $v in *plain*) ;; *) rm "$d/Packages" ;; esac
		done
	done
}
valid=2099-01-01

std_tree repo plain,gz,xz
mkdir -p repo/dists/stable/main/i18n
printf 'Package: greet\nDescription-md5: 0123456789abcdef0123456789abcdef\nDescription-en: greets (fixture)\n\n' > repo/dists/stable/main/i18n/Translation-en
bzip2 -k repo/dists/stable/main/i18n/Translation-en
release repo/dists/stable stable chantal-fixture $valid "Architectures: amd64 arm64" "Components: main contrib"
sign repo/dists/stable inrelease detached

std_tree repo-xz xz
release repo-xz/dists/stable stable chantal-fixture $valid "Architectures: amd64 arm64" "Components: main contrib"
sign repo-xz/dists/stable inrelease

std_tree repo-byhash gz
release repo-byhash/dists/stable stable chantal-fixture $valid "Architectures: amd64 arm64" "Components: main contrib" "Acquire-By-Hash: yes"
for f in $(cd repo-byhash/dists/stable && find . -name 'Packages*' | sed 's|^\./||'); do
	d=repo-byhash/dists/stable/$(dirname "$f")
	mkdir -p "$d/by-hash/SHA256"
	s=$(sha256sum "repo-byhash/dists/stable/$f" | cut -d' ' -f1)
	mv "repo-byhash/dists/stable/$f" "$d/by-hash/SHA256/$s"
done
sign repo-byhash/dists/stable inrelease

mkdir -p repo-flat
ln -s ../debs-pool repo-flat/pool
(cd repo-flat && dpkg-scanpackages -m pool/main /dev/null 2>/dev/null) > repo-flat/Packages
gzip -9n repo-flat/Packages
release repo-flat "" "" $valid "Architectures: amd64"
sign repo-flat detached

std_tree repo-expired gz
release repo-expired/dists/stable stable chantal-fixture 2026-01-02 "Architectures: amd64 arm64" "Components: main contrib"
sign repo-expired/dists/stable inrelease

# --- real Debian packages ---------------------------------------------------
# Fetched once and committed; a rerun without network keeps the committed ones.
if (mkdir -p "$work/real" && cd "$work/real" && apt-get download -q node-once=1.4.0-7 node-wrappy=1.0.2-3 >/dev/null 2>&1); then
	rm -rf real-debs
	for n in node-once node-wrappy; do
		mkdir -p "real-debs/main/n/$n"
		mv "$work/real/$n"_*.deb "real-debs/main/n/$n/"
	done
else
	[ -d real-debs ] || { echo "apt-get download failed and no committed real-debs/" >&2; exit 1; }
	echo "apt-get download failed; keeping the committed real-debs/" >&2
fi

# --- a source package: greet 1.1-1 and 1.1-2 share greet_1.1.orig.tar.gz -----
srcpkg() { # REVISION
	d="$work/srcbuild/greet-1.1"
	rm -rf "$d"; mkdir -p "$d/debian/source"
	printf 'greet (chantal-lite fixture)\n' > "$d/README"
	echo '3.0 (quilt)' > "$d/debian/source/format"
	printf '#!/usr/bin/make -f\n%%:\n\tdh $@\n' > "$d/debian/rules"; chmod +x "$d/debian/rules"
	printf 'Source: greet\nSection: utils\nPriority: optional\nMaintainer: chantal-lite fixtures <fixtures@example.invalid>\nStandards-Version: 4.6.2\n\nPackage: greet\nArchitecture: amd64\nDescription: greets (fixture)\n fixture source package\n' > "$d/debian/control"
	printf 'greet (1.1-%s) stable; urgency=low\n\n  * Fixture revision %s.\n\n -- chantal-lite fixtures <fixtures@example.invalid>  Thu, 01 Jan 2026 00:00:00 +0000\n' "$1" "$1" > "$d/debian/changelog"
	(cd "$work/srcbuild" && dpkg-source -q -b greet-1.1 >/dev/null 2>&1)
}
mkdir -p "$work/srcbuild/orig/greet-1.1"
printf 'greet (chantal-lite fixture)\n' > "$work/srcbuild/orig/greet-1.1/README"
tar --sort=name --mtime=@$SOURCE_DATE_EPOCH --owner=0 --group=0 --numeric-owner -C "$work/srcbuild/orig" -cf - greet-1.1 | gzip -9n > "$work/srcbuild/greet_1.1.orig.tar.gz"
srcpkg 1
srcpkg 2
mkdir -p src-pool/main/g/greet
cp "$work/srcbuild"/greet_1.1* src-pool/main/g/greet/

# --- repo-src: binaries (fixture + real) and Sources ---------------------------
mkdir -p repo-src/pool/main
ln -s ../../../debs-pool/main/g repo-src/pool/main/g
ln -s ../../../real-debs/main/n repo-src/pool/main/n
ln -s ../../../src-pool/main/g/greet repo-src/pool/main/g-src
d=repo-src/dists/stable/main
mkdir -p "$d/binary-amd64" "$d/source"
(cd repo-src && dpkg-scanpackages -m -a amd64 pool/main /dev/null 2>/dev/null) > "$d/binary-amd64/Packages"
gzip -9nk "$d/binary-amd64/Packages"
(cd repo-src && dpkg-scansources pool/main/g-src /dev/null 2>/dev/null) > "$d/source/Sources"
gzip -9nk "$d/source/Sources"
xz -k "$d/source/Sources"
release repo-src/dists/stable stable chantal-fixture $valid "Architectures: amd64" "Components: main"
# Listed, absent, as in Debian's archive: a client (and a mirror) must cope. apt
# 2.6 ignores an index whose uncompressed name the Release does not list.
rm "$d/source/Sources" "$d/binary-amd64/Packages"
sign repo-src/dists/stable inrelease detached
echo "fixtures written under $here"
