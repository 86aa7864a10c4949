use super::*;

fn ig(patterns: &[&str]) -> Ignore {
    Ignore::parse(patterns.join("\n")).unwrap_or_else(|e| panic!("{patterns:?}: {e}"))
}

/// patternmatcher_test.go's TestMatches (MatchesOrParentMatches with one pattern), plus
/// cases of our own for `**`, leading and trailing `/`, `.` and `..`.
#[test]
fn pattern_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "/", true),
        ("**/", "/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**", "dir/file/", true),
        ("**/", "dir/file/", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\*b", "a*b", true),
        // Ours. patternmatcher's shortcuts: a plain prefix before `**` is a string prefix,
        // a leading `**` with nothing else special is a string suffix.
        ("foo**", "foobar/x", true),
        ("**foo", "dir/barfoo", true),
        ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/y/b", true),
        ("a/**/b", "a/xb", false),
        ("a**b", "ab", true),
        ("a**b", "axb", false),
        ("a**b", "ax/b", true),
        ("**/*.log", "x.log", true),
        ("**/*.log", "a/b/x.log", true),
        ("**/*.log", "a/b/x.logs", false),
        ("*.log", "a/x.log", false),
        // `**` as a regexp `.` does not match a newline; `*` does.
        ("**/x*", "a\nb/xy", false),
        ("*/x*", "a\nb/xy", true),
        // Leading and trailing `/`, `.` and `..` are cleaned away.
        ("/foo", "foo", true),
        ("/foo/bar", "foo/bar/baz", true),
        ("foo/", "foo", true),
        ("foo/", "foo/x", true),
        ("./foo", "foo", true),
        ("foo/./bar", "foo/bar", true),
        ("foo/../bar", "bar", true),
        ("foo/../bar", "foo/bar", false),
        ("../foo", "foo", false),
        ("//foo//bar//", "foo/bar", true),
        // A directory pattern excludes everything under it.
        ("node_modules", "node_modules/a/b/c.js", true),
        ("node_modules", "src/node_modules", false),
        ("*/node_modules", "src/node_modules/x", true),
        // Classes, escapes, unicode.
        ("[a-c]x", "bx", true),
        ("[a-c]x", "dx", false),
        ("[^a-c]x", "dx", true),
        ("[\\]a]", "]", true),
        ("[\\-x]", "-", true),
        ("[x\\-]", "z", false),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("a*b", "a/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ("ab[^e-g]", "abc", true),
        ("a]b", "a]b", true),
        ("\\[x]", "[x]", true),
        ("a\\dc", "a5c", true),
        ("a\\dc", "adc", false),
        // `^` outside a class is a regexp anchor in patternmatcher's expression: it only
        // matches at the start (the pattern `a^b*` can never match).
        ("^ab*", "abc", true),
        ("a^b*", "a^bc", false),
        ("a^b", "a^b", true),
    ];
    let mut failed = Vec::new();
    for &(pattern, path, want) in cases {
        if ig(&[pattern]).is_excluded(path) != want {
            failed.push((pattern, path, want));
        }
    }
    assert!(
        failed.is_empty(),
        "(pattern, path, want) failing: {failed:#?}"
    );
}

/// patternmatcher_test.go's multi-pattern cases and the Test*Exclusion* ones.
#[test]
fn exceptions_and_order() {
    let cases: &[(&[&str], &str, bool)] = &[
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            true,
        ),
        (
            &[
                "**",
                "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            ],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (
            &["**", "!dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (&["*"], "fileutils.go", true),
        (&["*.go"], "fileutils.go", true),
        (&["!fileutils.go", "*.go"], "fileutils.go", true),
        (&["*.go", "!fileutils.go"], "fileutils.go", false),
        (&["docs", "!docs/README.md"], "docs/README.md", false),
        (&["docs/", "!docs/README.md"], "docs/README.md", false),
        (&["docs/*", "!docs/README.md"], "docs/README.md", false),
        (&["docs", "!docs/README.md"], "docs/other.md", true),
        (&["docs", "!docs/README.md"], "docs", true),
        // An exception re-includes a file under an excluded directory, at any depth.
        (
            &["node_modules", "!**/keep.js"],
            "node_modules/a/keep.js",
            false,
        ),
        (
            &["node_modules", "!**/keep.js"],
            "node_modules/a/drop.js",
            true,
        ),
        // ... and a later exclusion takes it away again.
        (&["a", "!a/b", "a/b/c"], "a/b/c/d", true),
        (&["a", "!a/b", "a/b/c"], "a/b/x", false),
        // The exception of a directory re-includes what is under it.
        (&["*", "!src"], "src/main.rs", false),
        (&["*", "!src"], "README.md", true),
        (&[], "anything", false),
        (&["*"], ".", false),
        (&["*"], "", false),
    ];
    for &(patterns, path, want) in cases {
        assert_eq!(
            ig(patterns).is_excluded(path),
            want,
            "{patterns:?} on {path:?}"
        );
    }
}

/// patternmatcher_test.go's TestMatch table (Go's own filepath.Match cases) through
/// `Ignore`, and each case straight through `go_match`.
#[test]
fn go_filepath_match_table() {
    let ok: &[(&str, &str, bool)] = &[
        ("abc", "abc", true),
        ("*", "abc", true),
        ("*c", "abc", true),
        ("a*", "a", true),
        ("a*", "abc", true),
        ("a*", "ab/c", true),
        ("a*/b", "abc/b", true),
        ("a*/b", "a/c/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ("ab[c]", "abc", true),
        ("ab[b-d]", "abc", true),
        ("ab[e-g]", "abc", false),
        ("ab[^c]", "abc", false),
        ("ab[^b-d]", "abc", false),
        ("ab[^e-g]", "abc", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "ab", false),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("a[^a][^a][^a]b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("a*b", "a/b", false),
        ("[\\]a]", "]", true),
        ("[\\-]", "-", true),
        ("[x\\-]", "x", true),
        ("[x\\-]", "-", true),
        ("[x\\-]", "z", false),
        ("[\\-x]", "x", true),
        ("[\\-x]", "-", true),
        ("[\\-x]", "a", false),
        ("*x", "xxx", true),
    ];
    for &(pattern, name, want) in ok {
        // `a*` on `ab/c` differs: filepath.Match says no, but the ignore file also
        // matches parent directories (`ab`).
        assert_eq!(
            ig(&[pattern]).is_excluded(name),
            want,
            "{pattern:?} on {name:?}"
        );
        if (pattern, name) != ("a*", "ab/c") {
            assert_eq!(
                go_match(pattern.as_bytes(), name.as_bytes()),
                Ok(want),
                "go_match {pattern:?} on {name:?}"
            );
        }
    }
    assert_eq!(go_match(b"a*", b"ab/c"), Ok(false));
    let bad = [
        "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "a[",
    ];
    for pattern in bad {
        assert_eq!(
            go_match(pattern.as_bytes(), b"a"),
            Err(BadPattern),
            "{pattern:?}"
        );
        let e = Ignore::parse(format!("ok\n{pattern}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{pattern:?}: {e}");
        assert!(e.contains("syntax error"), "{pattern:?}: {e}");
    }
}

/// ignorefile_test.go's TestReadAll, and the parse errors.
#[test]
fn reading_the_file() {
    let text = "\u{feff}test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\r\n  # not a comment\n\t spaced \t\n";
    let i = Ignore::parse(text).unwrap();
    let got: Vec<String> = i
        .patterns
        .iter()
        .map(|p| {
            format!(
                "{}{}",
                if p.exception { "!" } else { "" },
                String::from_utf8_lossy(&p.text)
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "test1",
            "test2",
            "a/file/here",
            "lastfile",
            "!inverted/abs/path",
            "# not a comment",
            "spaced"
        ]
    );
    assert!(i.is_excluded("a/file/here/too"));
    assert!(i.is_excluded("# not a comment"));
    assert!(!i.is_excluded("inverted/abs/path"));
    assert!(Ignore::parse("").unwrap().patterns.is_empty());
    assert!(Ignore::parse("# only\n\n   \n")
        .unwrap()
        .patterns
        .is_empty());

    for (text, line) in [("a\n!\n", 2), ("!  \n", 1), ("x\ny\n! /\n", 3)] {
        let e = Ignore::parse(text).unwrap_err().to_string();
        assert!(e.contains(&format!("line {line}")), "{text:?}: {e}");
        assert!(e.contains("illegal exclusion pattern"), "{text:?}: {e}");
    }
    // What Go's regexp refuses when the build walks the context is refused here at once.
    for (text, what) in [
        ("[z-a]", "invalid character class range"),
        ("[Local-Only]/", "invalid character class range"),
        ("a[*]", "not supported inside"),
        ("a\\q", "unsupported escape"),
    ] {
        let e = Ignore::parse(text).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains(what), "{text:?}: {e}");
    }
}

/// What a walker may skip: only when no exception could re-include something below.
#[test]
fn skipping_excluded_directories() {
    let plain = ig(&["node_modules", "**/*.log"]);
    assert!(plain.may_skip_dir("node_modules"));

    let literal = ig(&["node_modules", "build", "!build/keep/me.txt", "!docs/*"]);
    assert!(literal.may_skip_dir("node_modules"));
    assert!(!literal.may_skip_dir("build"));
    assert!(!literal.may_skip_dir("build/keep"));
    assert!(literal.may_skip_dir("build/other"));
    assert!(!literal.may_skip_dir("docs"));
    assert!(literal.may_skip_dir("doc"));

    // A wildcard in an exception could match anywhere: never skip.
    let wild = ig(&["node_modules", "!**/important.log"]);
    assert!(!wild.may_skip_dir("node_modules"));
    assert!(!wild.is_excluded("node_modules/x/important.log"));
}
