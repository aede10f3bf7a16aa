#!/bin/sh
# Builds the RPM fixtures under testdata/rpm/ from the specs in specs/:
#   repo/          packages + createrepo_c metadata (sha256, gz) + comps + updateinfo
#   repo-xz/ repo-bz2/   the same packages (Packages is a symlink)
#                  with metadata in another compression (Debian's createrepo_c
#                  has no zstd; the Go tests recompress repo/ with zstd themselves)
#   RPM-GPG-KEY-fixtures           public half of the throwaway key that signs greet-data
# Needs the Debian packages rpm, createrepo-c and gnupg. Idempotent: it
# rebuilds everything from scratch. The key and signature change on every run;
# tests use the committed outputs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

export SOURCE_DATE_EPOCH=1767225600   # 2026-01-01T00:00:00Z
export TZ=UTC LC_ALL=C
top="$work/rpmbuild"
mkdir -p "$top/SOURCES" "$top/SPECS"
cp "$here/specs/hello.sh" "$top/SOURCES/"

rpmb() {
	rpmbuild --quiet \
		--define "_topdir $top" \
		--define "_buildhost fixtures.example.invalid" \
		--define "use_source_date_epoch_as_buildtime 1" \
		--define "clamp_mtime_to_source_date_epoch 1" \
		--define "_binary_payload w9.gzdio" \
		--define "_source_payload w9.gzdio" \
		--define "_build_id_links none" \
		--define "debug_package %{nil}" \
		--define "__os_install_post %{nil}" \
		"$@"
}

rpmb -ba --target x86_64 --define "hello_version 1.0" "$here/specs/hello.spec"
rpmb -bb --target x86_64 --define "hello_version 1.1" "$here/specs/hello.spec"
rpmb -bb --target x86_64 "$here/specs/libgreet.spec"
rpmb -bb "$here/specs/greet-data.spec"

# Sign greet-data with a throwaway key.
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
uid='chantal-lite fixtures <fixtures@example.invalid>'
gpg --batch --quiet --passphrase '' --quick-gen-key "$uid" rsa2048 sign never
gpg --batch --armor --export "$uid" > "$here/RPM-GPG-KEY-fixtures"
rpmsign --addsign --define "_gpg_name $uid" --define "_gpg_path $GNUPGHOME" --define "__gpg $(command -v gpg)" \
	"$top"/RPMS/noarch/greet-data-*.rpm >/dev/null

repo="$here/repo"
rm -rf "$repo" "$here/repo-xz" "$here/repo-bz2"
mkdir -p "$repo/Packages"
cp "$top"/RPMS/*/*.rpm "$top"/SRPMS/*.rpm "$repo/Packages/"
touch -d "@$SOURCE_DATE_EPOCH" "$repo"/Packages/*.rpm

cr() {
	dir=$1
	shift
	createrepo_c --quiet --no-database --checksum sha256 --revision "$SOURCE_DATE_EPOCH" \
		--set-timestamp-to-revision --distro 'cpe:/o:example:fixture:1,Fixture 1' \
		--content binary-x86_64 --repo chantal-lite-fixture -g "$here/comps.xml" "$@" "$dir"
}

cr "$repo" --general-compress-type gz
modifyrepo_c --mdtype updateinfo --compress-type gz \
	--checksum sha256 "$here/updateinfo.xml" "$repo/repodata" >/dev/null

for c in xz bz2; do
	v="$here/repo-$c"
	mkdir -p "$v"
	ln -s ../repo/Packages "$v/Packages"
	cr "$v" --general-compress-type "$c"
done

# createrepo_c names files by checksum; modifyrepo_c stamps the current time
# into repomd.xml for updateinfo, so pin it to SOURCE_DATE_EPOCH for a
# stable diff.
sed -i "s|<timestamp>[0-9]*</timestamp>|<timestamp>$SOURCE_DATE_EPOCH</timestamp>|" "$repo/repodata/repomd.xml"
du -sh "$here/repo" "$here"/repo-* >&2
