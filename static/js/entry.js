/* Keyboard entry on the questionnaire page (progressive enhancement: without it the form
 * is plain radios, Tab and arrow keys).
 *
 * A nurse keys a paper form top to bottom without Tab:
 * - the page opens with focus on the date (typed dd/mm/yyyy); Enter moves to the first item;
 * - on an item, a digit in range chooses it and moves to the next field; "N" (or "-")
 *   chooses "Not answered" and moves on;
 * - on a 0-10 item "1" chooses 1 and waits for the next key: "0" makes it 10, any other
 *   key keeps 1, moves on and is applied to the next item, Enter keeps 1 and moves on.
 *   No timer: however fast or slow the nurse types, the same keys give the same answers;
 * - a key outside the item's range is refused: the earlier choice stays, the item shows
 *   why and a live region announces it;
 * - on a choice that is not an item (the PIH form version), a digit picks that option by its
 *   place (1 = the first, current form; 2 = the second, older form) and moves on; Enter
 *   keeps the choice and moves on; any other key is refused and the message says which
 *   keys work;
 * - Enter on any field moves to the next field and never submits; only the buttons submit.
 *
 * The fields a nurse passes, in order ("stops"): text inputs, checkboxes, one stop per radio
 * group (items and the PIH form version) and, last, the first submit button.
 */
(function () {
  "use strict";

  var NOT_ANSWERED = "na";
  var pendingOne = null; // the 0-10 item where "1" waits for a possible "0"

  function isItem(element) {
    return element && element.matches && element.matches("[data-item]");
  }

  function radioGroup(radio) {
    return radio.closest("[data-item]") || radio.closest("fieldset");
  }

  function stops(form) {
    var seen = [];
    var controls = form.querySelectorAll(
      'input:not([type="hidden"]), textarea, select, button[type="submit"]');
    controls.forEach(function (control) {
      var stop = control.type === "radio" ? radioGroup(control) : control;
      if (control.type === "submit" && seen.some(isSubmit)) {
        return;
      }
      if (seen.indexOf(stop) === -1) {
        seen.push(stop);
      }
    });
    return seen;
  }

  function isSubmit(stop) {
    return stop.type === "submit";
  }

  function stopOf(target) {
    return target.type === "radio" ? radioGroup(target) : target;
  }

  function focusStop(stop) {
    if (stop.tagName !== "FIELDSET") {
      stop.focus();
      return;
    }
    var radio = stop.querySelector('input[type="radio"]:checked') ||
                stop.querySelector('input[type="radio"]');
    radio.focus();
  }

  function advance(form, from) {
    var all = stops(form);
    var next = all[all.indexOf(from) + 1];
    if (next) {
      focusStop(next);
    }
    return next;
  }

  function values(item) {
    return Array.prototype.map.call(
      item.querySelectorAll('input[type="radio"]'), function (radio) { return radio.value; });
  }

  function checkedLabel(item) {
    var radio = item.querySelector('input[type="radio"]:checked');
    if (!radio) {
      return "nothing chosen yet";
    }
    return radio.value === NOT_ANSWERED ? '"Not answered" kept' : radio.value + " kept";
  }

  function choose(item, value) {
    var radio = item.querySelector('input[type="radio"][value="' + value + '"]');
    radio.checked = true;
    radio.focus();
    radio.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // One message slot per item, shown beside its choices (visible), plus the page's live
  // region (announced): a refused key is never silent.
  function showMessage(item, text, tone) {
    var slot = item.querySelector("[data-item-message]");
    if (!slot) {
      slot = document.createElement("p");
      slot.setAttribute("data-item-message", "");
      item.appendChild(slot);
    }
    slot.className = "item__message" + (tone ? " item__message--" + tone : "");
    slot.textContent = text;
    item.classList.toggle("item--refused", tone === "refused");
  }

  function clearMessage(item) {
    var slot = item.querySelector("[data-item-message]");
    if (slot) {
      slot.textContent = "";
      slot.className = "item__message";
    }
    item.classList.remove("item--refused");
  }

  function announce(form, text) {
    var live = form.querySelector("[data-entry-live]");
    // Emptied first so that the same refusal twice is announced twice.
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function refuse(form, item, key) {
    var range = item.dataset.min + "-" + item.dataset.max;
    var text = item.dataset.label + ': "' + key + '" refused: choose ' + range +
               ' or N for "Not answered"; ' + checkedLabel(item) + ".";
    showMessage(item, text, "refused");
    announce(form, text);
  }

  function waitForZero(item) {
    pendingOne = item;
    showMessage(item, "1 chosen: type 0 now for 10, or go on.", "pending");
  }

  // The key typed on an item. Returns nothing; moves focus as the rules above say.
  function keyOnItem(form, item, key) {
    if (pendingOne === item) {
      endWait();
      if (key === "0") {
        choose(item, "10");
        advance(form, item);
        return;
      }
      var next = advance(form, item);
      if (next) {
        keyOnStop(form, next, key);
      }
      return;
    }
    var value = (key === "n" || key === "N" || key === "-") ? NOT_ANSWERED : key;
    if (values(item).indexOf(value) === -1) {
      refuse(form, item, key);
      return;
    }
    clearMessage(item);
    choose(item, value);
    if (value === "1" && values(item).indexOf("10") !== -1) {
      waitForZero(item);
      return;
    }
    advance(form, item);
  }

  // A key on a choice that is not an item (the PIH form version): its options are keyed
  // by place, 1 for the first. "N" has no meaning here and is refused like any other key.
  function keyOnChoice(form, group, key) {
    var radios = group.querySelectorAll('input[type="radio"]');
    var place = /^[1-9]$/.test(key) ? parseInt(key, 10) : 0;
    if (place < 1 || place > radios.length) {
      var text = choiceLabel(group) + ': "' + key + '" refused: ' + choiceKeys(radios) +
                 "; Enter keeps " + checkedChoice(group) + ".";
      showMessage(group, text, "refused");
      announce(form, text);
      return;
    }
    clearMessage(group);
    choose(group, radios[place - 1].value);
    advance(form, group);
  }

  function choiceLabel(group) {
    var legend = group.querySelector("legend");
    return legend ? legend.textContent.trim() : "This choice";
  }

  function optionLabel(radio) {
    var label = radio.labels && radio.labels[0];
    return label ? label.textContent.trim() : radio.value;
  }

  function choiceKeys(radios) {
    return Array.prototype.map.call(radios, function (radio, index) {
      return "press " + (index + 1) + " for " + optionLabel(radio);
    }).join(", ");
  }

  function checkedChoice(group) {
    var radio = group.querySelector('input[type="radio"]:checked');
    return radio ? optionLabel(radio) : "nothing chosen";
  }

  // A key carried over from a 0-10 item to the next stop: an item or a choice takes it.
  function keyOnStop(form, stop, key) {
    if (isItem(stop)) {
      keyOnItem(form, stop, key);
    } else if (stop.tagName === "FIELDSET") {
      keyOnChoice(form, stop, key);
    }
  }

  function isChoiceKey(key) {
    return /^[0-9]$/.test(key) || key === "n" || key === "N" || key === "-";
  }

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var form = event.currentTarget;
    var key = event.key;
    if (key === "Enter") {
      onEnter(event, form, event.target);
      return;
    }
    if (event.target.type !== "radio") {
      return;
    }
    var stop = stopOf(event.target);
    if (key.indexOf("Arrow") === 0 && pendingOne === stop) {
      endWait(); // the arrow changes the choice natively; a later "0" is not 10
    }
    if (key.length !== 1 || key === " ") {
      return; // Tab, arrows, Shift, Space: native behaviour
    }
    if (isItem(stop)) {
      event.preventDefault();
      keyOnItem(form, stop, key);
    } else if (isChoiceKey(key)) {
      event.preventDefault();
      keyOnStop(form, stop, key);
    }
  }

  function endWait() {
    if (pendingOne) {
      clearMessage(pendingOne);
      pendingOne = null;
    }
  }

  // Enter on a field moves on; on a button or a link it keeps its native meaning.
  function onEnter(event, form, target) {
    if (!target.matches("input, select") || target.type === "submit") {
      return;
    }
    event.preventDefault();
    endWait();
    advance(form, stopOf(target));
  }

  function markAnswered(event) {
    var item = event.target.closest && event.target.closest("[data-item]");
    if (item) {
      item.classList.add("item--answered");
    }
  }

  // Focus starts on the form's first field (the date, its text selected so typing replaces
  // it), unless an error summary or conflict message has taken focus to be read first.
  // After a save (a stored questionnaire and a message) the message takes focus instead and
  // the page stays at its top: focusing the date would scroll the heading and the saved
  // state out of view. After enrolment (nothing stored yet) the date takes focus as usual.
  function focusFirstField(form) {
    if (document.querySelector("[data-error-summary]")) {
      return;
    }
    var saved = form.hasAttribute("data-entry-stored") &&
                document.querySelector('.site-messages [role="status"]');
    if (saved) {
      saved.setAttribute("tabindex", "-1");
      saved.focus({ preventScroll: true });
      window.scrollTo(0, 0);
      return;
    }
    var first = stops(form)[0];
    if (first) {
      focusStop(first);
      if (first.select) {
        first.select();
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-entry-form]");
    if (!form) {
      return;
    }
    form.addEventListener("keydown", onKey);
    form.addEventListener("change", markAnswered);
    form.addEventListener("focusin", function (event) {
      if (pendingOne && stopOf(event.target) !== pendingOne) {
        endWait(); // Tab, Shift+Tab or a click elsewhere: 1 stays chosen
      }
    });
    focusFirstField(form);
  });
})();
