/* 报事报修: shrink camera photos on the phone before they are sent, show previews, keep to the limit.
   Progressive: without this script (or where a browser cannot re-fill a file input) the photos go as
   taken, and the server checks them all the same. */
(function () {
  "use strict";
  var form = document.getElementById("request-form");
  if (!form || !window.FileReader || !window.DataTransfer || !document.createElement("canvas").toBlob) return;
  var MAX_SIDE = 1600, QUALITY = 0.85, SHRINK_OVER = 1.5 * 1024 * 1024;
  var limit = parseInt(form.getAttribute("data-max-photos"), 10) || 9;
  var inputs = form.querySelectorAll(".portal-photo-input");
  var preview = document.getElementById("photo-preview");
  var status = document.getElementById("photo-status");
  var submit = document.getElementById("request-submit");
  var hint = status ? status.textContent : "";
  var busy = 0;

  function setBusy(delta) {
    busy += delta;
    if (submit) submit.disabled = busy > 0;
    if (status) status.textContent = busy > 0 ? status.getAttribute("data-working") : hint;
  }

  function load(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
      img.src = url;
    });
  }

  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) return Promise.resolve(file);
    return load(file).then(function (img) {
      var side = Math.max(img.naturalWidth, img.naturalHeight);
      if (side <= MAX_SIDE && file.size <= SHRINK_OVER) return file;
      var scale = Math.min(1, MAX_SIDE / side);
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(img.naturalWidth * scale);
      canvas.height = Math.round(img.naturalHeight * scale);
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || blob.size >= file.size) return resolve(file);
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg", lastModified: Date.now() }));
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return file; });
  }

  function count() {
    var total = 0;
    for (var i = 0; i < inputs.length; i++) total += inputs[i].files ? inputs[i].files.length : 0;
    return total;
  }

  function showPreviews() {
    while (preview.firstChild) preview.removeChild(preview.firstChild);
    for (var i = 0; i < inputs.length; i++) {
      var files = inputs[i].files || [];
      for (var j = 0; j < files.length; j++) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(files[j]);
        img.alt = files[j].name;
        preview.appendChild(img);
      }
    }
    if (count() > limit && status) status.textContent = status.getAttribute("data-too-many");
  }

  function changed(event) {
    var input = event.target, files = Array.prototype.slice.call(input.files || []);
    if (!files.length) { showPreviews(); return; }
    setBusy(1);
    Promise.all(files.map(shrink)).then(function (shrunk) {
      var transfer = new DataTransfer();
      shrunk.forEach(function (f) { transfer.items.add(f); });
      input.files = transfer.files;
    }).catch(function () { /* keep the photos as taken */ }).then(function () {
      setBusy(-1);
      showPreviews();
    });
  }

  for (var i = 0; i < inputs.length; i++) inputs[i].addEventListener("change", changed);
  form.addEventListener("submit", function (event) {
    if (busy > 0) { event.preventDefault(); return; }
    if (count() > limit) {
      event.preventDefault();
      if (status) status.textContent = status.getAttribute("data-too-many");
    }
  });
})();
