// The interactive latent map of an aekit report: one SVG circle per item; hovering (or
// tapping) a point previews the item, clicking it lists its nearest neighbours. Everything
// comes from the JSON in #map-data: nothing is fetched.
"use strict";
(async function () {
  const source = document.getElementById("map-data");
  const svg = document.getElementById("map");
  if (!source || !svg) return;
  const data = JSON.parse(source.textContent);
  const n = data.x.length;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const width = data.shape.reduce((a, b) => a * b, 1);

  // base64 of zlib-compressed bytes -> Uint8Array, inflated by the browser itself.
  async function decode(b64) {
    const raw = atob(b64);
    const packed = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) packed[i] = raw.charCodeAt(i);
    const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const items = await decode(data.items); // (n, width) bytes
  const recon = data.recon ? await decode(data.recon) : null;

  function value(bytes, i, j) {
    const [low, high] = data.range;
    return low + (bytes[i * width + j] / 255) * (high - low);
  }

  // An item on a canvas: grey pixels for an image, a line of its values otherwise (its
  // reconstruction, when given as `over`, dashed on top).
  function draw(canvas, bytes, i, over) {
    const ctx = canvas.getContext("2d");
    if (data.kind === "image") {
      const [h, w] = data.shape;
      const small = document.createElement("canvas");
      small.width = w;
      small.height = h;
      const sctx = small.getContext("2d");
      const image = sctx.createImageData(w, h);
      for (let j = 0; j < h * w; j++) {
        const g = bytes[i * width + j];
        image.data.set([g, g, g, 255], 4 * j);
      }
      sctx.putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
      return;
    }
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const line = (src, colour, dash) => {
      ctx.beginPath();
      ctx.strokeStyle = colour;
      ctx.setLineDash(dash);
      for (let j = 0; j < width; j++) {
        const x = width > 1 ? (j / (width - 1)) * (canvas.width - 4) + 2 : canvas.width / 2;
        const y = canvas.height - 2 - (src[i * width + j] / 255) * (canvas.height - 4);
        if (j === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    };
    line(bytes, "#1f77b4", []);
    if (over) line(over, "#ff7f0e", [4, 3]);
  }

  function canvasFor(size) {
    const canvas = document.createElement("canvas");
    canvas.width = data.kind === "image" ? size : 2 * size;
    canvas.height = size;
    return canvas;
  }

  // A sample by its id when the report was given ids, else by its row in the data.
  const name = (i) => (data.names ? data.names[i] : `#${data.ids[i]}`);

  function describe(i) {
    const parts = [`sample ${name(i)}`];
    if (data.labels) parts.push(`label ${data.labels[i]}`);
    if (data.scores) parts.push(`score ${data.scores[i]}`);
    if (data.values) parts.push(`${data.value_name} ${data.values[i]}`);
    return parts.join(" · ");
  }

  const preview = document.getElementById("preview");
  const previewTitle = document.getElementById("preview-title");
  const previewItem = document.getElementById("preview-item");
  const previewRecon = document.getElementById("preview-recon");
  const previewValues = document.getElementById("preview-values");
  if (!recon) document.getElementById("preview-recon-figure").remove();
  if (data.kind === "image") {
    previewItem.width = previewItem.height = 112;
    if (previewRecon) previewRecon.width = previewRecon.height = 112;
  }

  function show(i) {
    preview.hidden = false;
    preview.dataset.index = String(i);
    previewTitle.textContent = describe(i);
    if (data.kind === "image") {
      draw(previewItem, items, i, null);
      if (recon) draw(previewRecon, recon, i, null);
    } else {
      draw(previewItem, items, i, recon);
      const shown = Math.min(width, 8);
      const cells = [];
      for (let j = 0; j < shown; j++) cells.push(value(items, i, j).toPrecision(3));
      previewValues.textContent =
        `values: ${cells.join(", ")}${width > shown ? ", …" : ""}` +
        (recon ? " (blue: the item, orange dashed: its reconstruction)" : "");
    }
  }

  const neighbourBox = document.getElementById("neighbours");
  const neighbourTitle = document.getElementById("neighbours-title");
  const neighbourList = document.getElementById("neighbours-list");

  function neighbours(i) {
    neighbourBox.hidden = false;
    neighbourTitle.textContent = `Nearest neighbours of ${describe(i)} (distance in the code space)`;
    neighbourList.replaceChildren();
    for (let r = 0; r < data.k; r++) {
      const j = data.neighbours[i * data.k + r];
      const figure = document.createElement("figure");
      figure.className = "neighbour";
      figure.dataset.index = String(j);
      const canvas = canvasFor(72);
      draw(canvas, items, j, null);
      const caption = document.createElement("figcaption");
      const label = data.labels ? `${data.labels[j]} · ` : "";
      caption.textContent = `${label}${name(j)} · ${data.distances[i * data.k + r]}`;
      if (data.labels && data.labels[j] !== data.labels[i]) figure.classList.add("other");
      figure.append(canvas, caption);
      figure.addEventListener("mouseenter", () => show(j));
      neighbourList.append(figure);
    }
  }

  let selected = null;
  function select(i) {
    if (selected !== null) selected.classList.remove("selected");
    selected = svg.querySelector(`circle[data-i="${i}"]`);
    selected.classList.add("selected");
    show(i);
    neighbours(i);
  }

  const layer = document.createElementNS(SVG_NS, "g");
  for (let i = 0; i < n; i++) {
    const dot = document.createElementNS(SVG_NS, "circle");
    dot.setAttribute("cx", data.x[i]);
    dot.setAttribute("cy", data.y[i]);
    dot.setAttribute("r", n > 1000 ? 3 : 4);
    if (data.colors.length) dot.setAttribute("fill", data.colors[i]);
    dot.dataset.i = String(i);
    layer.append(dot);
  }
  svg.append(layer);
  svg.addEventListener("mouseover", (event) => {
    const i = event.target.dataset && event.target.dataset.i;
    if (i !== undefined) show(Number(i));
  });
  svg.addEventListener("click", (event) => {
    const i = event.target.dataset && event.target.dataset.i;
    if (i !== undefined) select(Number(i));
  });
  document.body.dataset.mapReady = "true";
})();
