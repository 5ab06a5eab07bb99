package main

// The container image, tested without a Docker engine: the Dockerfile's
// shape, the name and tag scheme shared by argocd/, docker-compose.yml and
// the Makefile, the build context .dockerignore leaves, and the Lambda
// entry. Each check is proven to bite by a table of deliberate breakages.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/patternmatcher"

	"github.com/shoplab/shoplab/argocd"
)

// dockerInstr is one instruction of a Dockerfile, continuations joined.
type dockerInstr struct {
	line int
	op   string // upper case: FROM, RUN, USER, ...
	args string
}

func parseDockerfile(src string) []dockerInstr {
	var out []dockerInstr
	sc := bufio.NewScanner(strings.NewReader(src))
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{line: start, op: strings.ToUpper(op), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

var pinnedImage = regexp.MustCompile(`^[a-z0-9.\-/:]+:[A-Za-z0-9_${}][A-Za-z0-9_.${}-]*(@sha256:[0-9a-f]{64})?$`)

// checkDockerfile returns what is wrong with the Dockerfile's shape.
func checkDockerfile(src string) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ins := parseDockerfile(src)
	var froms []dockerInstr
	lastFrom := -1
	for i, in := range ins {
		switch in.op {
		case "FROM":
			froms = append(froms, in)
			lastFrom = i
			image := strings.Fields(in.args)[0]
			if strings.HasSuffix(image, ":latest") || !pinnedImage.MatchString(image) {
				fail("line %d: FROM %s is not pinned to a tag", in.line, image)
			}
		case "HEALTHCHECK":
			fail("line %d: HEALTHCHECK: the probes belong to compose and Kubernetes, not the image", in.line)
		}
	}
	if len(froms) < 2 {
		fail("not multi-stage: %d FROM", len(froms))
		return problems
	}
	final := strings.Fields(froms[len(froms)-1].args)[0]
	if final != "scratch" && !strings.HasPrefix(final, "gcr.io/distroless/static") {
		fail("final stage %s: want scratch or gcr.io/distroless/static (a static binary needs no libc)", final)
	}
	build := ""
	for _, in := range ins[:lastFrom] {
		if in.op == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if !strings.Contains(build, "CGO_ENABLED=0") {
		fail("the go build of the build stage does not set CGO_ENABLED=0 (%q)", build)
	}
	var user, entry string
	copied := false
	for _, in := range ins[lastFrom+1:] {
		switch in.op {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		case "COPY":
			copied = copied || strings.Contains(in.args, "--from=")
		}
	}
	if !copied {
		fail("final stage copies nothing from the build stage")
	}
	if name, _, _ := strings.Cut(user, ":"); user == "" || name == "root" || name == "0" {
		fail("final stage runs as %q: want a non-root USER", user)
	}
	if entry != `["shoplab"]` {
		fail(`ENTRYPOINT %s: want ["shoplab"] (compose and Kubernetes pass serve <unit> as args)`, entry)
	}
	return problems
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDockerfile(string(b)) {
		t.Error("Dockerfile: " + p)
	}
}

func TestDockerfileChecksCatchBreakages(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, tt := range []struct{ name, old, new, want string }{
		{"root user", "USER nonroot:nonroot", "USER root", "non-root USER"},
		{"no user", "USER nonroot:nonroot", "", "non-root USER"},
		{"cgo on", "CGO_ENABLED=0", "CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"debian final stage", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:bookworm-slim", "want scratch or gcr.io/distroless/static"},
		{"latest base", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM gcr.io/distroless/static:latest", "not pinned"},
		{"healthcheck", "ENTRYPOINT [\"shoplab\"]", "HEALTHCHECK CMD [\"shoplab\", \"probe\"]\nENTRYPOINT [\"shoplab\"]", "HEALTHCHECK"},
		{"shell entrypoint", `ENTRYPOINT ["shoplab"]`, `ENTRYPOINT /usr/local/bin/shoplab`, "ENTRYPOINT"},
		{"single stage", "FROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /out/shoplab /usr/local/bin/shoplab", "", "multi-stage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			broken := strings.Replace(src, tt.old, tt.new, 1)
			if broken == src {
				t.Fatalf("breakage %q does not apply: %q is not in the Dockerfile", tt.name, tt.old)
			}
			problems := checkDockerfile(broken)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("breakage not caught: want a problem containing %q, got %q", tt.want, problems)
			}
		})
	}
}

// imageScheme is the tag scheme argocd/ deploys: <semver> in prod, the same
// <semver>-dev in dev.
var imageScheme = regexp.MustCompile(`^(ghcr\.io/shoplab/shoplab):(\d+\.\d+\.\d+)(-dev)?$`)

// deployedImages returns the image and args of every container an overlay
// deploys, by Deployment name.
func deployedImages(tb testing.TB, overlay string) map[string][2]string {
	tb.Helper()
	out, err := argocd.RenderFS(argocd.Tree, overlay)
	if err != nil {
		tb.Fatalf("render %s: %v", overlay, err)
	}
	deps, err := argocd.Deployments(out)
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string][2]string{}
	for _, d := range deps {
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.Command) > 0 {
				tb.Errorf("%s %s: container %s sets command %q; the image's ENTRYPOINT is shoplab", overlay, d.Name, c.Name, c.Command)
			}
			m[d.Name] = [2]string{c.Image, strings.Join(c.Args, " ")}
		}
	}
	return m
}

// TestImageNameMatchesArgoCD: compose, the Makefile and both overlays use one
// image repository; dev deploys <semver>-dev and prod the same <semver>;
// compose runs dev's image with the same args Kubernetes passes.
func TestImageNameMatchesArgoCD(t *testing.T) {
	dev, prod := deployedImages(t, "overlays/dev"), deployedImages(t, "overlays/prod")
	if len(dev) == 0 || len(prod) == 0 {
		t.Fatalf("no Deployments rendered (dev %d, prod %d)", len(dev), len(prod))
	}
	var devImage string
	for name, c := range dev {
		m := imageScheme.FindStringSubmatch(c[0])
		if m == nil || m[3] != "-dev" {
			t.Errorf("dev %s: image %s, want %s", name, c[0], "ghcr.io/shoplab/shoplab:<semver>-dev")
			continue
		}
		if p := imageScheme.FindStringSubmatch(prod[name][0]); p == nil || p[3] != "" || p[2] != m[2] {
			t.Errorf("prod %s: image %s, want %s:%s (the version dev runs, without -dev)", name, prod[name][0], m[1], m[2])
		}
		if devImage != "" && devImage != c[0] {
			t.Errorf("dev runs two images: %s and %s", devImage, c[0])
		}
		devImage = c[0]
	}
	p := loadCompose(t)
	for name, c := range dev {
		s, ok := p.Services[name]
		if !ok {
			t.Errorf("argocd deploys %s, compose has no such service", name)
			continue
		}
		if s.Image != c[0] {
			t.Errorf("compose %s: image %s, argocd dev deploys %s", name, s.Image, c[0])
		}
		if got := strings.Join(s.Command, " "); got != c[1] {
			t.Errorf("compose %s: command %q, Kubernetes args %q", name, got, c[1])
		}
	}
	repo, tag, _ := strings.Cut(devImage, ":")
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"IMAGE ?= " + repo + "\n", "TAG ?= " + tag + "\n"} {
		if !bytes.Contains(mk, []byte(line)) {
			t.Errorf("Makefile: no %q (the image argocd dev deploys)", strings.TrimSpace(line))
		}
	}
}

// readDockerignore returns the patterns of .dockerignore.
func readDockerignore(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(".dockerignore")
	if err != nil {
		tb.Fatal(err)
	}
	var pats []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			pats = append(pats, strings.TrimPrefix(l, "/"))
		}
	}
	return pats
}

// binaryFiles lists the module's files the shoplab binary is built from:
// go.mod, go.sum and the Go and go:embed files of every package it imports.
func binaryFiles(tb testing.TB) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", `{{if not .Standard}}{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}{{end}}`, ".")
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go list: %v", err)
	}
	wd, _ := os.Getwd()
	files := []string{"go.mod", "go.sum"}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			rel, err := filepath.Rel(wd, l)
			if err != nil {
				tb.Fatal(err)
			}
			files = append(files, filepath.ToSlash(rel))
		}
	}
	return files
}

// excluded returns the files a build context with these patterns leaves out.
func excluded(tb testing.TB, patterns, files []string) []string {
	tb.Helper()
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		tb.Fatalf(".dockerignore: %v", err)
	}
	var out []string
	for _, f := range files {
		// MatchesOrParentMatches is how the docker builder reads the file.
		if m, err := pm.MatchesOrParentMatches(f); err != nil || m {
			out = append(out, f)
		}
	}
	return out
}

// TestDockerignoreKeepsTheBuild: every file `go build .` reads is in the
// build context, and a pattern that drops one (migrations, an embedded
// schema) is caught.
func TestDockerignoreKeepsTheBuild(t *testing.T) {
	files := binaryFiles(t)
	if !slices.Contains(files, "envs/compose.yaml") || !slices.Contains(files, "main.go") {
		t.Fatalf("go list found no embedded env files or main.go: %d files", len(files))
	}
	pats := readDockerignore(t)
	if ex := excluded(t, pats, files); len(ex) > 0 {
		t.Errorf(".dockerignore leaves files the binary needs out of the build context: %v", ex)
	}
	for _, extra := range []string{"**/migrations", "envs/*.yaml", "scenarios", "**/*.sql"} {
		if len(excluded(t, append(slices.Clone(pats), extra), files)) == 0 {
			t.Errorf("breakage not caught: pattern %q drops nothing the binary needs?", extra)
		}
	}
	// And it does keep the heavy or secret-prone directories out.
	for _, f := range []string{".git/HEAD", "docs/development.md", "services/analytics/flink/target/x.jar", "compose/chaos.env", ".env"} {
		if len(excluded(t, pats, []string{f})) == 0 {
			t.Errorf(".dockerignore sends %s into the build context", f)
		}
	}
}

func TestLambdaBootstrapArgs(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	tf := func(k string) (string, bool) {
		v, ok := map[string]string{"SHOPLAB_SES_SENDER": "orders@shoplab.dev"}[k]
		return v, ok
	}
	both := func(k string) (string, bool) {
		v, ok := map[string]string{"SHOPLAB_SES_SENDER": "a@x", "SHOPLAB_SENDER": "b@x"}[k]
		return v, ok
	}
	for _, tt := range []struct {
		in     []string
		lookup func(string) (string, bool)
		want   []string
	}{
		{[]string{"/var/task/bootstrap"}, none, []string{"/var/task/bootstrap", "lambda", "notification"}},
		{[]string{"bootstrap"}, tf, []string{"bootstrap", "lambda", "notification", "--sender", "orders@shoplab.dev"}},
		{[]string{"bootstrap"}, both, []string{"bootstrap", "lambda", "notification"}},
		{[]string{"bootstrap", "serve", "user"}, tf, []string{"bootstrap", "serve", "user"}},
		{[]string{"/usr/local/bin/shoplab"}, tf, []string{"/usr/local/bin/shoplab"}},
	} {
		if got := lambdaArgs(tt.in, tt.lookup); !slices.Equal(got, tt.want) {
			t.Errorf("lambdaArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLambdaZipMatchesTerraform: make lambda-zip builds for the
// architecture terraform/aws/modules/lambda declares.
func TestLambdaZipMatchesTerraform(t *testing.T) {
	tf, err := os.ReadFile("terraform/aws/modules/lambda/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`architectures\s*=\s*\["([a-z0-9_]+)"\]`).FindSubmatch(tf)
	if m == nil || !bytes.Contains(tf, []byte(`runtime       = "provided.al2023"`)) || !bytes.Contains(tf, []byte(`handler       = "bootstrap"`)) {
		t.Fatal("terraform/aws/modules/lambda/main.tf: no provided.al2023 / bootstrap / architectures")
	}
	goarch := map[string]string{"x86_64": "amd64", "arm64": "arm64"}[string(m[1])]
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if want := "LAMBDA_ARCH ?= " + goarch + "\n"; goarch == "" || !bytes.Contains(mk, []byte(want)) {
		t.Errorf("Makefile: no %q (terraform deploys the Lambda on %s)", strings.TrimSpace(want), m[1])
	}
}
