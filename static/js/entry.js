/* Keyboard entry on the questionnaire page (progressive enhancement).
 *
 * Native behaviour already does most of the work: Tab moves from item to item (one tab
 * stop per radio group), arrow keys change the choice. This adds digits: on an item,
 * typing a digit chooses that value; "1" then "0" within a second chooses 10 on a 0-10
 * item. "N" (or "-") chooses "Not answered". Focus stays on the item; Tab moves on.
 */
(function () {
  "use strict";
  var JOIN_MS = 1000;
  var buffer = "";
  var bufferItem = null;
  var bufferTime = 0;

  function choose(item, value) {
    var radio = item.querySelector('input[type="radio"][value="' + value + '"]');
    if (!radio) {
      return false;
    }
    radio.checked = true;
    radio.focus();
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var target = event.target;
    if (!target.matches || !target.matches('input[type="radio"]')) {
      return;
    }
    var item = target.closest("[data-item]");
    if (!item) {
      return;
    }
    var key = event.key;
    if (key === "n" || key === "N" || key === "-") {
      event.preventDefault();
      choose(item, "na");
      buffer = "";
      return;
    }
    if (!/^[0-9]$/.test(key)) {
      return;
    }
    event.preventDefault();
    var now = Date.now();
    var joined = (item === bufferItem && now - bufferTime < JOIN_MS) ? buffer + key : key;
    // Prefer the two-digit value when the item has it (10 on a 0-10 item), else the digit.
    if (!choose(item, joined)) {
      joined = key;
      choose(item, key);
    }
    buffer = joined;
    bufferItem = item;
    bufferTime = now;
  }

  function markAnswered(event) {
    var item = event.target.closest && event.target.closest("[data-item]");
    if (item) {
      item.classList.add("item--answered");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-entry-form]");
    if (!form) {
      return;
    }
    form.addEventListener("keydown", onKey);
    form.addEventListener("change", markAnswered);
  });
})();
