export default window.createREGL;
