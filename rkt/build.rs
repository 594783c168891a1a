// rkt is linked at a fixed address, like the stage1 executable: see
// "Fixed-address executables" in ARCHITECTURE.md.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
