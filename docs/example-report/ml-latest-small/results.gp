set datafile separator ','
set datafile columnheaders
set terminal png size 900,540 font ',11' noenhanced
set grid
set key outside right
set output 'results.png'
set title 'test, valid retrieval subset'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'metric'
set yrange [0:*]
plot for [c=2:6] 'results.csv' using c:xtic(1) title columnheader(c)
