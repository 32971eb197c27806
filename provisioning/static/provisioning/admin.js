// Copy buttons: a button with data-copy="<element id>" copies that element's text.
"use strict";
document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) {
        return;
    }
    event.preventDefault();
    const text = document.getElementById(button.dataset.copy).textContent.trim();
    navigator.clipboard.writeText(text).then(
        () => { button.textContent = "Copied"; },
        () => { button.textContent = "Copy failed: select the text and copy it"; },
    );
});
