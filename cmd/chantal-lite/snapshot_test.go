package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSnapshotAndPublishCommands(t *testing.T) {
	cfg, _ := writeConfig(t, fixtureRepo(t), "filtered")
	must := func(args ...string) cliRun {
		t.Helper()
		r := runCLI(t, append([]string{"--config", cfg}, args...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r
	}
	must("sync", "el")
	must("snapshot", "create", "el", "{repo}-{date}")
	var list []struct{ Repo, Name string }
	if err := json.Unmarshal([]byte(must("--json", "snapshot", "list").stdout), &list); err != nil || len(list) != 1 || !strings.HasPrefix(list[0].Name, "el-") {
		t.Fatalf("snapshot list: %v %+v", err, list)
	}
	ref := "el/" + list[0].Name
	if out := must("snapshot", "content", "--format", "csv", ref).stdout; !strings.HasPrefix(out, "name,version,arch,size,sha256,path\n") || !strings.Contains(out, "hello,") {
		t.Errorf("content csv:\n%s", out)
	}
	var d struct{ Equal bool }
	if err := json.Unmarshal([]byte(must("--json", "snapshot", "diff", "el", ref).stdout), &d); err != nil || !d.Equal {
		t.Errorf("diff of a repo and its snapshot: %v %+v", err, d)
	}
	must("snapshot", "copy", ref, "el/stable")
	must("publish", "snapshot", "el/stable")
	if r := runCLI(t, "--config", cfg, "snapshot", "delete", "el/stable"); r.code != exitError || !strings.Contains(r.stderr, "published at") {
		t.Errorf("delete of a published snapshot: exit %d\n%s", r.code, r.stderr)
	}
	var pubs []struct{ Target, Kind, Name string }
	if err := json.Unmarshal([]byte(must("--json", "publish", "list").stdout), &pubs); err != nil || len(pubs) != 1 || pubs[0].Kind != "snapshot" {
		t.Fatalf("publish list: %v %+v", err, pubs)
	}
	if r := runCLI(t, "--config", cfg, "publish", "rollback", pubs[0].Target); r.code != exitError {
		t.Errorf("rollback without a previous version: exit %d", r.code)
	}
	must("publish", "unpublish", "snapshots/el/stable")
	must("snapshot", "delete", "el/stable")
	must("snapshot", "show", ref)
	if r := runCLI(t, "--config", cfg, "publish", "repo"); r.code != exitUsage {
		t.Errorf("publish repo without REPO: exit %d", r.code)
	}
	if r := runCLI(t, "--config", cfg, "view", "list"); r.code != 0 {
		t.Errorf("view list: exit %d %s", r.code, r.stderr)
	}
}
