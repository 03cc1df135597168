// Command deadcode reports the functions and methods of a Go program that
// nothing but its tests reaches: the dead-code check of `make lint`.
//
//	deadcode [-filter REGEXP] [-api REGEXP] [-allow FILE] [-tags TAGS] PACKAGES...
//
// The roots are the main packages among PACKAGES and, for a library, every
// exported function and method of the packages matching -api: its users'
// programs may call any of them. A function is reached by a static call, by
// having its value taken (a callback, a method value), or by a call through
// an interface, which reaches the method of every type of the program that
// implements it (class hierarchy analysis).
//
// golang.org/x/tools/cmd/deadcode also counts every exported method of
// every type that could reach reflection. In an operator that is nearly
// every type (a reconciler is handed to the manager as an interface, and
// with it every type its fields hold), so it cannot see a method that only
// tests call. This check does not follow reflection: a method that only
// reflection calls (text/template, for one) would be reported, and none of
// the program's own types is used that way.
//
// It prints one "file:line:col: unreachable func: Name" line per dead
// function of the packages matching -filter (default: the main module),
// skipping generated files, and exits 1 when it printed any. FILE lists
// functions to leave out, one "import/path.Name" or "import/path.Type.Method"
// a line, each with a "#" comment saying which test needs it; an entry that
// is no longer dead fails the check too, so the list cannot go stale.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

func main() {
	log.SetPrefix("deadcode: ")
	log.SetFlags(0)
	var o options
	flag.StringVar(&o.filter, "filter", "", "report only packages whose import path matches this regular expression (default: the packages of the main module)")
	flag.StringVar(&o.api, "api", "", "packages whose exported functions and methods are roots, as a library's API")
	allow := flag.String("allow", "", "file of functions not to report")
	flag.StringVar(&o.tags, "tags", "", "comma-separated build tags")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("usage: deadcode [-filter REGEXP] [-api REGEXP] [-allow FILE] [-tags TAGS] PACKAGES...")
	}
	o.patterns = flag.Args()
	if *allow != "" {
		var err error
		if o.allow, err = readAllow(*allow); err != nil {
			log.Fatal(err)
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		log.Fatal(err)
	}
	o.dir = dir
	lines, err := run(o)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	if len(lines) > 0 {
		os.Exit(1)
	}
}

// options are the inputs of one run.
type options struct {
	dir      string
	patterns []string
	filter   string
	api      string
	tags     string
	// allow holds the names of functions not to report.
	allow map[string]bool
}

// readAllow reads an allow file: one qualified name a line; "#" starts a
// comment.
func readAllow(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	allow := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			allow[line] = true
		}
	}
	return allow, sc.Err()
}

// run loads the packages and returns the lines to print: the dead
// functions, sorted by position, then the allowed ones that are not dead.
func run(o options) ([]string, error) {
	cfg := &packages.Config{
		Dir:        o.dir,
		Mode:       packages.LoadAllSyntax | packages.NeedModule,
		BuildFlags: []string{"-tags=" + o.tags},
	}
	initial, err := packages.Load(cfg, o.patterns...)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", strings.Join(o.patterns, " "), err)
	}
	if packages.PrintErrors(initial) > 0 {
		return nil, fmt.Errorf("the packages have errors")
	}
	if o.filter == "" {
		for _, p := range initial {
			if p.Module != nil && p.Module.Main {
				o.filter = "^" + regexp.QuoteMeta(p.Module.Path) + "(/|$)"
				break
			}
		}
		if o.filter == "" {
			return nil, fmt.Errorf("no package of %s is in a main module; give -filter", strings.Join(o.patterns, " "))
		}
	}
	report, err := regexp.Compile(o.filter)
	if err != nil {
		return nil, fmt.Errorf("-filter: %w", err)
	}
	var api *regexp.Regexp
	if o.api != "" {
		if api, err = regexp.Compile(o.api); err != nil {
			return nil, fmt.Errorf("-api: %w", err)
		}
	}

	prog, pkgs := ssautil.AllPackages(initial, ssa.InstantiateGenerics)
	prog.Build()
	var roots []*ssa.Function
	for _, m := range ssautil.MainPackages(pkgs) {
		roots = append(roots, m.Func("init"), m.Func("main"))
	}
	if api != nil {
		for _, p := range pkgs {
			if p != nil && api.MatchString(p.Pkg.Path()) {
				roots = append(roots, exported(prog, p)...)
			}
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("no main package among %s and no -api package", strings.Join(o.patterns, " "))
	}
	live := reach(prog, roots)

	// Source-level declarations are matched by position: the
	// instantiations of a generic function share their origin's.
	type deadFunc struct {
		pos  token.Position
		name string
	}
	var dead []deadFunc
	seen := map[token.Position]bool{}
	allowed := map[string]bool{}
	packages.Visit(initial, nil, func(p *packages.Package) {
		if !report.MatchString(p.PkgPath) {
			return
		}
		for _, file := range p.Syntax {
			if ast.IsGenerated(file) {
				continue
			}
			for _, decl := range file.Decls {
				fd, ok := decl.(*ast.FuncDecl)
				if !ok || fd.Name.Name == "init" || (fd.Name.Name == "main" && p.Name == "main") {
					continue
				}
				obj, _ := p.TypesInfo.Defs[fd.Name].(*types.Func)
				if obj == nil {
					continue
				}
				pos := prog.Fset.Position(obj.Pos())
				if live[pos] || seen[pos] {
					continue
				}
				seen[pos] = true
				if q := p.PkgPath + "." + name(obj); o.allow[q] {
					allowed[q] = true
					continue
				}
				if rel, err := filepath.Rel(o.dir, pos.Filename); err == nil && !strings.HasPrefix(rel, "..") {
					pos.Filename = rel
				}
				dead = append(dead, deadFunc{pos, name(obj)})
			}
		}
	})
	slices.SortFunc(dead, func(a, b deadFunc) int {
		if c := strings.Compare(a.pos.Filename, b.pos.Filename); c != 0 {
			return c
		}
		return a.pos.Line - b.pos.Line
	})
	var lines []string
	for _, d := range dead {
		lines = append(lines, fmt.Sprintf("%s: unreachable func: %s", d.pos, d.name))
	}
	var stale []string
	for q := range o.allow {
		if !allowed[q] {
			stale = append(stale, fmt.Sprintf("allowed but not dead (remove it from the allow file): %s", q))
		}
	}
	slices.Sort(stale)
	return append(lines, stale...), nil
}

// exported returns the exported functions of p and the exported methods of
// its types.
func exported(prog *ssa.Program, p *ssa.Package) []*ssa.Function {
	var fns []*ssa.Function
	for _, m := range p.Members {
		switch m := m.(type) {
		case *ssa.Function:
			if m.Object() != nil && m.Object().Exported() && m.TypeParams().Len() == 0 {
				fns = append(fns, m)
			}
		case *ssa.Type:
			if n, ok := m.Type().(*types.Named); ok && n.TypeParams().Len() > 0 {
				continue
			}
			for _, t := range []types.Type{m.Type(), types.NewPointer(m.Type())} {
				for sel := range prog.MethodSets.MethodSet(t).Methods() {
					if sel.Obj().Exported() {
						fns = append(fns, prog.MethodValue(sel))
					}
				}
			}
		}
	}
	return fns
}

// name is Func or Type.Method.
func name(f *types.Func) string {
	recv := f.Signature().Recv()
	if recv == nil {
		return f.Name()
	}
	t := recv.Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		return n.Obj().Name() + "." + f.Name()
	}
	return f.Name()
}

// reach returns the positions of the functions reachable from roots.
func reach(prog *ssa.Program, roots []*ssa.Function) map[token.Position]bool {
	impls := newImplementations(prog)
	done := map[*ssa.Function]bool{}
	var work []*ssa.Function
	add := func(f *ssa.Function) {
		if f != nil && !done[f] {
			done[f] = true
			work = append(work, f)
		}
	}
	for _, r := range roots {
		add(r)
	}
	for len(work) > 0 {
		f := work[len(work)-1]
		work = work[:len(work)-1]
		for _, anon := range f.AnonFuncs {
			add(anon)
		}
		for _, b := range f.Blocks {
			for _, instr := range b.Instrs {
				if site, ok := instr.(ssa.CallInstruction); ok {
					call := site.Common()
					if call.IsInvoke() {
						for _, g := range impls.of(call.Value.Type(), call.Method) {
							add(g)
						}
					} else {
						add(call.StaticCallee())
					}
				}
				// A function whose value is taken may be called through
				// it; so may a method, through a bound-method wrapper.
				var ops [8]*ssa.Value
				for _, op := range instr.Operands(ops[:0]) {
					if op != nil {
						if g, ok := (*op).(*ssa.Function); ok {
							add(g)
						}
					}
				}
			}
		}
	}
	live := make(map[token.Position]bool, len(done))
	for f := range done {
		if f.Pos().IsValid() {
			live[prog.Fset.Position(f.Pos())] = true
		}
		if o := f.Origin(); o != nil && o.Pos().IsValid() {
			live[prog.Fset.Position(o.Pos())] = true
		}
	}
	return live
}

// implementations resolves calls through interfaces to the methods of
// every concrete type of the program that implements the interface.
type implementations struct {
	prog *ssa.Program
	// byName lists the concrete types that have a method of each name.
	byName map[string][]types.Type
	cache  map[string][]*ssa.Function
}

func newImplementations(prog *ssa.Program) *implementations {
	im := &implementations{prog: prog, byName: map[string][]types.Type{}, cache: map[string][]*ssa.Function{}}
	seen := map[types.Type]bool{}
	addType := func(t types.Type) {
		if types.IsInterface(t) || seen[t] {
			return
		}
		seen[t] = true
		for sel := range prog.MethodSets.MethodSet(t).Methods() {
			name := sel.Obj().Name()
			im.byName[name] = append(im.byName[name], t)
		}
	}
	for _, p := range prog.AllPackages() {
		for _, m := range p.Members {
			tm, ok := m.(*ssa.Type)
			if !ok {
				continue
			}
			t := tm.Type()
			if n, ok := t.(*types.Named); ok && n.TypeParams().Len() > 0 {
				continue // their instances come from RuntimeTypes
			}
			addType(t)
			addType(types.NewPointer(t))
		}
	}
	// Instances of generic types, and unnamed types with methods (structs
	// embedding a named type), that are put in an interface somewhere.
	for _, t := range prog.RuntimeTypes() {
		addType(t)
	}
	return im
}

// of returns the methods a call of method m on a value of interface type
// iface may run.
func (im *implementations) of(iface types.Type, m *types.Func) []*ssa.Function {
	key := types.TypeString(iface, nil) + "." + m.Id()
	if fns, ok := im.cache[key]; ok {
		return fns
	}
	I, _ := iface.Underlying().(*types.Interface)
	var fns []*ssa.Function
	if I != nil {
		for _, t := range im.byName[m.Name()] {
			if !types.Implements(t, I) {
				continue
			}
			sel := im.prog.MethodSets.MethodSet(t).Lookup(m.Pkg(), m.Name())
			if sel == nil {
				continue
			}
			if fn := im.prog.MethodValue(sel); fn != nil {
				fns = append(fns, fn)
			}
		}
	}
	im.cache[key] = fns
	return fns
}
