#!/bin/sh
# Nightly chantal-lite run: sync every enabled repository, freeze a dated
# snapshot of selected repositories and publish it (plus their latest state),
# collect pool garbage and back up the catalog.
#
# Install as /usr/local/libexec/chantal-lite-sync.sh (mode 0755); run by
# chantal-lite-sync.service or the cron line in chantal-lite.cron.
#
# Environment:
#   CHANTAL_SNAPSHOT_REPOS  repositories to snapshot and publish (space-separated)
#   CHANTAL_BACKUP_DIR      where catalog exports go (default /var/backups/chantal-lite)
#   CHANTAL_BACKUP_DAYS     days of exports to keep (default 14)
#   CHANTAL_LITE            the binary (default: chantal-lite from PATH)
#
# Exit status: the sync's (0, or 3 when some packages failed and the rest were
# synced); any other failure stops the run with that command's exit status
# (4 = another chantal-lite process holds a lock: try again later).
set -eu

cl=${CHANTAL_LITE:-chantal-lite}
repos=${CHANTAL_SNAPSHOT_REPOS:-}
backup_dir=${CHANTAL_BACKUP_DIR:-/var/backups/chantal-lite}
backup_days=${CHANTAL_BACKUP_DAYS:-14}
day=$(date -u +%F) # what {date} expands to: the UTC date, YYYY-MM-DD

sync_rc=0
"$cl" sync --all || sync_rc=$?
case $sync_rc in
0 | 3) ;; # 3: partial; the failed packages are in `repo history` and retried next run
*) exit "$sync_rc" ;;
esac

for repo in $repos; do
	# One snapshot per repository and day; a second run the same day keeps it.
	if ! "$cl" -q snapshot show "$repo/$repo-$day" >/dev/null 2>&1; then
		"$cl" snapshot create "$repo" '{repo}-{date}'
	fi
	"$cl" publish snapshot "$repo/$repo-$day"
	"$cl" publish repo "$repo"
done

# Remove blobs nothing references any more (older than storage.gc_grace).
"$cl" pool gc

# Back up the catalog; with a copy of <base_path>/pool this restores everything
# (see docs/operations.md). Old exports are pruned.
mkdir -p "$backup_dir"
"$cl" db export "$backup_dir/catalog-$day.jsonl"
find "$backup_dir" -name 'catalog-*.jsonl' -mtime +"$backup_days" -delete

exit "$sync_rc"
