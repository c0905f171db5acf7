// The permission matrix: besides Tab, the arrow keys move between the checkboxes of the
// grid by row and column, Home/End jump within a row; Space ticks (native checkbox).
export function mount(el) {
  const table = el.querySelector("table");
  if (!table) return;
  const grid = () =>
    [...table.tBodies[0].rows].map((row) =>
      [...row.cells].slice(1).map((cell) => cell.querySelector('input[type="checkbox"]')),
    );
  function position(input) {
    const rows = grid();
    for (let r = 0; r < rows.length; r++) {
      const c = rows[r].indexOf(input);
      if (c >= 0) return [rows, r, c];
    }
    return [rows, -1, -1];
  }
  function find(rows, r, c, dr, dc) {
    // The next existing checkbox in that direction (cells without one are skipped).
    for (let i = r + dr, j = c + dc; i >= 0 && i < rows.length && j >= 0 && j < rows[i].length; i += dr, j += dc) {
      if (rows[i][j]) return rows[i][j];
      if (dr === 0 && dc === 0) break;
    }
    return null;
  }
  table.addEventListener("keydown", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "checkbox") return;
    const [rows, r, c] = position(input);
    if (r < 0) return;
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    let target = null;
    if (event.key in moves) {
      const [dr, dc] = moves[event.key];
      target = find(rows, r, c, dr, dc);
    } else if (event.key === "Home") {
      target = rows[r].find(Boolean) || null;
    } else if (event.key === "End") {
      target = [...rows[r]].reverse().find(Boolean) || null;
    } else {
      return;
    }
    event.preventDefault();
    if (target) target.focus();
  });
}
