// The device list's selection: "select all on this page", the selected count, bulk
// buttons enabled only with a selection, and the selection kept across table refreshes
// (live polling, a bulk action's refresh) for the rows still on screen.
export function mount(el) {
  const selected = new Set();
  const boxes = () => [...el.querySelectorAll("[data-row-select]")];

  function track(box) {
    if (box.checked) selected.add(box.value);
    else selected.delete(box.value);
  }

  function refresh() {
    const all = boxes();
    const count = all.filter((b) => b.checked).length;
    el.querySelectorAll("[data-selected-count]").forEach((n) => {
      n.textContent = String(count);
    });
    el.querySelectorAll("[data-needs-selection]").forEach((b) => {
      b.disabled = count === 0;
    });
    const head = el.querySelector("[data-select-all]");
    if (head) {
      head.checked = all.length > 0 && count === all.length;
      head.indeterminate = count > 0 && count < all.length;
    }
    const decommission = el.querySelector("[data-decommission]");
    if (decommission) {
      const what = count === 1 ? "this device" : `these ${count} devices`;
      decommission.setAttribute(
        "hx-confirm",
        `Decommission ${what}? Their agents stop working and the devices leave the list.`,
      );
    }
  }

  el.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("[data-select-all]")) {
      boxes().forEach((b) => {
        b.checked = target.checked;
        track(b);
      });
    } else if (target.matches("[data-row-select]")) {
      track(target);
    } else {
      return;
    }
    refresh();
  });

  // A new table (filters, sort, page, refresh): re-check the rows still selected.
  el.addEventListener("htmx:load", (event) => {
    if (event.target.id !== "device-table") return;
    const shown = new Set();
    boxes().forEach((b) => {
      shown.add(b.value);
      b.checked = selected.has(b.value);
    });
    for (const id of [...selected]) if (!shown.has(id)) selected.delete(id);
    refresh();
  });

  refresh();
}
