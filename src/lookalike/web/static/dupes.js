// The duplicates review page: each group's choice is kept in this browser (localStorage).
"use strict";
document.querySelectorAll(".dupe-group").forEach((group) => {
  const key = "lookalike.dupes." + group.dataset.group;
  const saved = localStorage.getItem(key);
  group.querySelectorAll("input[type=radio]").forEach((radio) => {
    if (saved && radio.value === saved) radio.checked = true;
    radio.addEventListener("change", () => { localStorage.setItem(key, radio.value); group.dataset.choice = radio.value; });
  });
  if (saved) group.dataset.choice = saved;
});
