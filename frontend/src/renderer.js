// A renderer for regl-scatterplot that draws straight into the map's canvas.
//
// regl-scatterplot's own renderer draws each frame into a float framebuffer, converts that
// into an offscreen WebGL canvas and copies the result into the visible (2D) canvas: three
// passes over every pixel, which cost more than drawing 50,000 points where WebGL runs in
// software (SwiftShader: headless browsers, machines without a GPU). The points blend the
// same way here (premultiplied, onto a transparent canvas, gamma 1), so the picture is the
// same with one pass. The object has the members regl-scatterplot uses of its renderer.
import { createRegl } from 'regl-scatterplot';

const EXTENSIONS = ['OES_texture_float', 'OES_element_index_uint', 'WEBGL_color_buffer_float', 'EXT_float_blend'];
const CLEAR = { color: [0, 0, 0, 0], depth: 1 };

export function createDirectRenderer(canvas) {
  // The context is created with these attributes first; createRegl then receives this same
  // context and enables the extensions. No multisampling: regl-scatterplot smooths point
  // edges in its shader, and its framebuffer had none either.
  const gl = canvas.getContext('webgl', { antialias: false, preserveDrawingBuffer: false });
  const regl = createRegl(canvas);
  const draws = new Set();
  const loop = regl.frame(() => {
    for (const draw of draws) draw();
  });
  const pixel = new Uint8Array(4);
  let destroyed = false;
  return {
    regl,
    canvas,
    gamma: 1,
    isSupported: EXTENSIONS.every((name) => regl.hasExtension(name)),
    get isDestroyed() {
      return destroyed;
    },
    onFrame(draw) {
      draws.add(draw);
      return () => draws.delete(draw);
    },
    render(draw) {
      regl.clear(CLEAR);
      draw();
    },
    // The scatterplot sizes the canvas (it is its own); regl then reads the new size.
    resize(width, height) {
      canvas.width = Math.floor(width * window.devicePixelRatio);
      canvas.height = Math.floor(height * window.devicePixelRatio);
      regl.poll();
    },
    refresh() {
      regl.poll();
    },
    // Blocks until the GPU has executed every drawing call so far (reading one pixel waits
    // for them): WebGL calls return before the work is done.
    finish() {
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
    },
    destroy() {
      destroyed = true;
      loop.cancel();
      regl.destroy();
    },
  };
}
