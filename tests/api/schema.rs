//! The schema contract: schema.graphql is what `export-schema` prints.

#[test]
fn schema_graphql_matches_export_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_partner-clients"))
        .arg("export-schema")
        .output()
        .expect("run partner-clients export-schema");
    assert!(out.status.success(), "export-schema failed: {}", String::from_utf8_lossy(&out.stderr));
    let exported = String::from_utf8(out.stdout).unwrap();
    let checked_in = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        exported == checked_in,
        "schema.graphql is out of date with the code. Regenerate it with:\n\n    cargo run -- export-schema > schema.graphql\n\nand review the diff: other teams generate clients from it."
    );
}
