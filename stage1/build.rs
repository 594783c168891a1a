// The stage1 executable is linked at a fixed address, like rkt's: see
// "Fixed-address executables" in ARCHITECTURE.md.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
