// The forms of the applicant's space that send documents (form[data-upload]): the same POST through
// XMLHttpRequest, so that upload.onprogress can fill the form's <progress>. Without this script the form posts
// as usual. The server answers a success with 201 and the page to go to (Location), and a refusal with the
// form again (its French message, the typed values kept): that page's content replaces this one's.

function bind(form) {
  const box = form.querySelector(".upload-progress");
  const bar = box?.querySelector("progress");
  const text = box?.querySelector(".upload-text");
  const button = form.querySelector("button[type=submit]");

  function say(message, value) {
    if (!box) return;
    box.hidden = false;
    if (value !== undefined) bar.value = value;
    text.textContent = message;
  }

  form.addEventListener("submit", (event) => {
    if (!window.FormData || !window.XMLHttpRequest) return; // the plain form post
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf.value);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.setRequestHeader("Accept", "text/html");
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.round((e.loaded / e.total) * 100);
      say(box.dataset.sending.replace("{pct}", pct), pct);
    };
    xhr.upload.onload = () => say(box.dataset.processing, 100);
    xhr.onload = () => {
      const target = xhr.getResponseHeader("Location");
      if (xhr.status < 400 && target) {
        window.location.assign(target);
        return;
      }
      if (!show(xhr.responseText)) {
        say(box.dataset.failed, 0);
        button.disabled = false;
      }
    };
    xhr.onerror = () => {
      say(box.dataset.failed, 0);
      button.disabled = false;
    };
    button.disabled = true;
    say(box.dataset.sending.replace("{pct}", 0), 0);
    xhr.send(new FormData(form));
  });
}

// The page the server answered (a refusal): its main content in place of ours, the message focused.
function show(html) {
  const page = new DOMParser().parseFromString(html, "text/html");
  const theirs = page.querySelector("main");
  const ours = document.querySelector("main");
  if (!theirs || !ours) return false;
  ours.replaceChildren(...Array.from(theirs.childNodes, (node) => document.importNode(node, true)));
  document.title = page.title;
  ours.querySelectorAll("form[data-upload]").forEach(bind);
  (ours.querySelector("#form-error") || ours.querySelector("h1"))?.focus();
  return true;
}

document.querySelectorAll("form[data-upload]").forEach(bind);
