//! Desktop shell. The real app runs Tauri; the example only prints.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "desktop".to_owned());
    println!("{}", polyglot_engine::greet(&name));
    println!("engine {}", polyglot_engine::version());
}
